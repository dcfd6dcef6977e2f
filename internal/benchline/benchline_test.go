package benchline

import "testing"

func BenchmarkMeter(b *testing.B) {
	sink := make([][]byte, 0, 16)
	m := Start(b, 10)
	for b.Loop() {
		sink = append(sink[:0], make([]byte, 64))
	}
	m.Stop()
	if len(sink) != 1 {
		b.Fatal("the loop did not run")
	}
}
