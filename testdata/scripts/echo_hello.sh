#!/bin/sh
# Prints one line on each stream and exits 0.
echo "hello from echo_hello"
echo "hello on stderr" >&2
exit 0
