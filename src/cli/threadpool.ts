// Evaluated first (index.ts imports it before anything else): the peer's native SRT receivers keep a
// libuv worker busy per stream in a blocking receive, so the pool gets more than the default 4 threads
// before anything starts it.
process.env.UV_THREADPOOL_SIZE ??= '16';
