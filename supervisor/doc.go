// Package supervisor owns the lifecycle of the processes prox runs: it
// starts them through their runners, frames their output into log entries,
// tracks their state and stops them gracefully (stop signal to every process
// group at once, wait up to each process's timeout, SIGKILL what remains).
//
// It knows runners only as sdk.Runner, so whether a process runs locally,
// in a container or over ssh is the plugin's business.
package supervisor
