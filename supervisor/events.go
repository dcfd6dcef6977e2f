package supervisor

import (
	"sync"
	"sync/atomic"
	"time"
)

// eventBuffer is the least capacity of each subscriber's channel; it is
// eventsPerProcess per process when that is more: stopping or starting
// every process at once makes two or three events each in a burst (say
// stopping, stopped), which a subscriber such as the sinks' forwarder must
// not lose.
const (
	eventBuffer      = 256
	eventsPerProcess = 8
)

// Event types.
const (
	// EventState is a change of state (From -> To).
	EventState = "state"
	// EventHealth is a change of health status (Health).
	EventHealth = "health"
)

// SupervisorEvent is one change in the life of one process: of its state,
// or of its health.
type SupervisorEvent struct {
	Time time.Time
	// Type is EventState or EventHealth.
	Type    string
	Process string
	From    State
	To      State
	// Exit is the exit status when the change was caused by an exit.
	Exit *ExitStatus
	// Restarts is the process's restart count after the change.
	Restarts int
	// Reason explains the change when there is more to say (a start
	// error, the restart limit, the plugin that died).
	Reason string
	// NextRestart is set when To is StateBackoff.
	NextRestart time.Time
	// Health is the new health status of an EventHealth.
	Health HealthStatus
	// Action is what an EventReload did to the process: ActionAdd,
	// ActionRemove or ActionRestart; "" for the start and end of a
	// reload.
	Action string
}

// eventBus fans events out to subscribers without ever blocking the
// publisher: a full subscriber loses the event and its drop counter says
// how many it lost.
type eventBus struct {
	size    int // each subscriber's channel capacity
	mu      sync.Mutex
	subs    map[<-chan SupervisorEvent]*subscriber
	dropped atomic.Uint64 // total over all subscribers, past and present
}

type subscriber struct {
	ch      chan SupervisorEvent
	dropped atomic.Uint64
}

// newEventBus returns a bus for a supervisor of processes processes.
func newEventBus(processes int) *eventBus {
	return &eventBus{subs: map[<-chan SupervisorEvent]*subscriber{}, size: max(eventBuffer, eventsPerProcess*processes)}
}

func (b *eventBus) subscribe() <-chan SupervisorEvent {
	s := &subscriber{ch: make(chan SupervisorEvent, b.size)}
	b.mu.Lock()
	b.subs[s.ch] = s
	b.mu.Unlock()
	return s.ch
}

// unsubscribe removes the subscriber and closes its channel; it returns
// how many events it lost.
func (b *eventBus) unsubscribe(ch <-chan SupervisorEvent) uint64 {
	b.mu.Lock()
	s, ok := b.subs[ch]
	delete(b.subs, ch)
	b.mu.Unlock()
	if !ok {
		return 0
	}
	close(s.ch)
	return s.dropped.Load()
}

func (b *eventBus) publish(ev SupervisorEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.subs {
		select {
		case s.ch <- ev:
		default:
			s.dropped.Add(1)
			b.dropped.Add(1)
		}
	}
}
