package sio

// Observer receives Socket.IO events for metrics (*metrics.Metrics satisfies it). Its
// methods may be called concurrently and, for rooms, with the adapter's lock held: they
// must be fast, must not block and must not call into the Socket.IO layer.
type Observer interface {
	// SocketConnected reports a socket connected to a namespace (one per namespace a
	// client connects to).
	SocketConnected()
	// SocketDisconnected reports, once per connected socket, that it left its namespace.
	SocketDisconnected()
	// AddRooms reports a room created (+1, first member) or removed (-1, last member left)
	// in a MemoryAdapter. A room created by a socket joining its own id (done at connect)
	// is never reported, even if another socket keeps it after that socket left.
	AddRooms(delta int)
	// ObserveBroadcast reports one MemoryAdapter broadcast and the number of sockets
	// whose session took it (closed sockets and dropped volatile packets not counted).
	ObserveBroadcast(recipients int)
}

// nopObserver is the Observer used when Options.Observer is nil.
type nopObserver struct{}

func (nopObserver) SocketConnected()     {}
func (nopObserver) SocketDisconnected()  {}
func (nopObserver) AddRooms(int)         {}
func (nopObserver) ObserveBroadcast(int) {}
