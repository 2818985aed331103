// Package netloop is floe's network front end: a gnet v2 engine that frames
// Kafka requests, parses their headers, decodes their bodies with kmsg and hands
// them to a Handler, then writes the responses back in request order.
//
// # Ownership
//
// Each connection belongs to the gnet event loop that accepted it. Its state
// (connState: sequence numbers, the reorder ring, the paused flag, the closed
// flag) is read and written only on that loop's goroutine: in OnOpen, OnTraffic,
// OnClose and in tasks the loop runs through EventLoop().Execute.
//
// Handlers answer from any goroutine through Request.Respond / Skip / Close.
// Those calls encode the response on the caller's goroutine and push it onto the
// loop's completion queue (loopState.queue, guarded by loopState.mu, which is
// never held across anything but an append or a swap). The first push into an
// empty queue schedules one drain task on the loop; the drain task moves the
// responses into their connections' reorder rings and writes every response
// whose predecessors have been written, with one Writev per connection. So the
// only goroutine that ever writes to a socket is its loop, and responses leave
// in request order even though handlers finish out of order (gnet gives no
// ordering between AsyncWrite calls from different goroutines).
//
// A connection hands at most 256 KiB to one Writev. Past that, if answers for
// other connections are waiting, it keeps the rest in its backlog and the
// loop writes those answers first: a megabyte catch-up Fetch response does
// not hold up a Produce answer on the same loop for the whole of its write.
//
// Nothing on a loop goroutine waits on disk, the network, an actor reply or a
// lock an actor holds: Handler.Serve must return without blocking.
//
// # Limits
//
//   - a frame larger than Options.MaxFrameBytes closes the connection;
//   - at most Options.MaxInFlight requests per connection: past it the loop stops
//     decoding that connection's frames (they wait in gnet's inbound buffer) until
//     responses drain; a connection whose buffered input passes twice the frame
//     limit while paused is closed, since gnet itself cannot stop reading;
//   - at most Options.MaxConnections connections, well below RLIMIT_NOFILE (an
//     accept failure such as EMFILE would stop the whole gnet engine);
//   - every in-flight request has a deadline; a connection whose oldest request
//     passes it is closed, so a lost reply cannot stall a connection forever.
package netloop
