--- weft: asyncio for Lua 5.4, on weft (libuv).
--
--   local weft = require "weft"
--   weft.run(function()
--     local t = weft.spawn(function(n) weft.sleep(0.1); return n * 2 end, 21)
--     print(t:await())                       --> 42
--   end)
--
-- Tasks are coroutines driven by weft tasks: weft.spawn(fn, ...) starts one,
-- x:await() inside a task suspends it until the future or task x is done and
-- returns its values (or raises its error).  Everything that waits is a weft
-- future (combinators included), so C code and Lua code await each other.
--
-- Errors are tables {code=<negative weft code>, name="ETIMEDOUT", message=...}
-- (weft.Error is their metatable): cancellation is code weft.ECANCELED, a
-- timeout weft.ETIMEDOUT, and a Lua error raised in a task fails it with
-- code weft.EUNHANDLED and a message that carries the traceback.
--
-- Values: a future's result can be any Lua values.  nil, one integer, float or
-- string are stored as weft values (a C task reads them as int64, double or
-- bytes); anything else is kept in the registry until the future is freed.

local core = require "weft.core"
local rt = core.rt

local weft = { core = core }

-- ---- constants --------------------------------------------------------------------

for k, v in pairs(core) do
  if type(v) == "number" and k:match("^[A-Z][A-Z0-9_]*$") then
    weft[k] = v
  end
end
weft.VERSION = core.version_string()
weft.strerror = core.strerror
weft.err_name = core.err_name

-- ---- errors -----------------------------------------------------------------------

local Error = rt.error_metatable
weft.Error = Error
local error_object = rt.error_object
local ECANCELED, ETIMEDOUT = core.ECANCELED, core.ETIMEDOUT

--- An error object for `code` (a negative weft code) and an optional message.
function weft.error(code, message)
  return error_object(code, message)
end

--- true if `e` is a weft error object (optionally with this code).
function weft.is_error(e, code)
  local c = rt.error_code(e)
  return c ~= nil and (code == nil or c == code)
end

function weft.is_cancelled(e) return rt.error_code(e) == ECANCELED end
function weft.is_timeout(e) return rt.error_code(e) == ETIMEDOUT end

-- Raises an error object for a negative status code; returns rc otherwise.
local function check(rc, what)
  if type(rc) == "number" and rc < 0 then
    error(error_object(rc, what and (what .. ": " .. core.strerror(rc)) or nil), 3)
  end
  return rc
end
weft.check = check

-- ---- methods ----------------------------------------------------------------------

local function copy(t, into)
  into = into or {}
  for k, v in pairs(t) do into[k] = v end
  return into
end

local fut_mt, task_mt = rt.future_metatable, rt.task_metatable
-- weft.future() inside a run is a Lua future (see runtime.c): the same
-- methods, a metatable made from lfut_mt for each run (with the run's loop)
-- until C needs it, then an ordinary future wrapper.
local lfut_mt = rt.lua_future_metatable
local loop_mt, handle_mt = rt.loop_metatable, rt.handle_metatable
local sw_future, sw_task = fut_mt[".fn"], task_mt[".fn"]

-- Future methods (they all accept a task too: a task is a future).
local F = copy(sw_future)
F.await = rt.await
F.result = rt.result
F.exception = rt.error
F.set_result = rt.set_result
F.set_error = rt.set_error
F.add_done_callback = rt.add_done_callback
F.remove_done_callback = rt.remove_done_callback
F.get_loop = rt.get_loop
F.code = rt.code                  -- the raw outcome: 0, EPENDING, ECANCELED or the error code
F.state = rt.state
F.describe = rt.describe
F.done = rt.done
F.cancelled = rt.cancelled
--- Cancels a pending future (a task: requests its cancellation); true if it did.
F.cancel = rt.cancel

-- Task methods: the future's, plus the task's own.
local T = copy(F)
copy(sw_task, T)
T.set_result, T.set_error = nil, nil     -- a task's outcome is its function's
T.cancel = F.cancel
T.awaiting = rt.awaiting
local sw_uncancel, sw_set_name = sw_task.uncancel, sw_task.set_name
function T.uncancel(self) return check(sw_uncancel(self)) end
function T.set_name(self, name) check(sw_set_name(self, name)) end
function T.get_name(self) return self:name() end

fut_mt.__index = F
task_mt.__index = T
lfut_mt.__index = F
local function describe(self) return self:describe() end
fut_mt.__tostring = describe
task_mt.__tostring = describe
lfut_mt.__tostring = describe
weft.Future, weft.Task = F, T

local L = copy(loop_mt[".fn"])
loop_mt.__index = L
handle_mt.__index = copy(handle_mt[".fn"])
local sw_hcancel = handle_mt[".fn"].cancel
function handle_mt.__index.cancel(self) return check(sw_hcancel(self)) == 1 end
function handle_mt.__index.cancelled(self) return handle_mt[".fn"].cancelled(self) == 1 end
weft.Loop, weft.Handle = L, handle_mt.__index

-- ---- the loop ---------------------------------------------------------------------

local current_loop = rt.loop

--- The loop the caller runs under (asyncio.get_running_loop); raises if none.
function weft.get_running_loop()
  local loop = current_loop()
  if loop == nil then error("no running weft loop (use weft.run)", 2) end
  return loop
end

--- A new loop, not running (for loop:run / run_until / close by hand).
function weft.new_loop(flags)
  local loop = core.loop(flags or 0)
  if loop == nil then check(core.last_error(), "weft.new_loop") end
  return loop
end

--- asyncio.run: runs main(...) as the task "main" on a new loop until it is
-- done, cancels what is left, closes the loop, and returns main's values or
-- raises its error.  weft.run(opts, main, ...) takes options first:
--   virtual_time = true   the loop's clock jumps to the next timer whenever
--                         every task waits (tests run sleeps instantly)
function weft.run(main, ...)
  local opts = {}
  if type(main) == "table" then
    opts = main
    return weft.run_with(opts, ...)
  end
  return weft.run_with(opts, main, ...)
end

function weft.run_with(opts, main, ...)
  if current_loop() ~= nil then
    error("weft.run() cannot be called while a weft loop is running", 3)
  end
  local loop = weft.new_loop(opts.virtual_time and core.LOOP_VIRTUAL_TIME or 0)
  local ok, task = pcall(rt.spawn, loop, "main", main, ...)
  if not ok then
    loop:close()
    error(task, 2)
  end
  local rc = loop:run_until(task)
  local deadlock = rc == core.EDEADLOCK
  if deadlock then
    task:cancel("weft.run: no work left that could wake the main task")
    rc = loop:run_until(task)
  end
  task:code() -- main's failure is observed here (raised below), not reported at close
  local closed
  for _ = 1, 10 do
    closed = loop:close()
    if closed ~= core.EBUSY then break end
  end
  if deadlock and task:cancelled() then
    error(error_object(core.EDEADLOCK, "the main task waits for something that cannot happen"), 2)
  end
  if not task:done() then check(rc ~= 0 and rc or core.ESTATE, "weft.run") end
  check(closed, "weft.run: closing the loop")
  return rt.result(task)
end

--- Schedules fn(...) to run soon; returns a handle (handle:cancel()).
function weft.call_soon(fn, ...)
  local args, n = { ... }, select("#", ...)
  local rc, h = weft.get_running_loop():call_soon(function(status)
    if status == 0 then fn(table.unpack(args, 1, n)) end
  end)
  check(rc, "call_soon")
  return h
end

--- Schedules fn(...) after `delay` seconds; returns a handle.
function weft.call_later(delay, fn, ...)
  local args, n = { ... }, select("#", ...)
  local rc, h = weft.get_running_loop():call_later(delay, function(status)
    if status == 0 then fn(table.unpack(args, 1, n)) end
  end)
  check(rc, "call_later")
  return h
end

--- Schedules fn(...) at loop time `when` (weft.time() units); returns a handle.
function weft.call_at(when, fn, ...)
  local args, n = { ... }, select("#", ...)
  local rc, h = weft.get_running_loop():call_at(when, function(status)
    if status == 0 then fn(table.unpack(args, 1, n)) end
  end)
  check(rc, "call_at")
  return h
end

--- The loop's monotonic clock, in seconds.
function weft.time() return weft.get_running_loop():time() end

--- Moves a virtual-time loop's clock forward (asyncio's TestLoop.advance_time).
function weft.advance(seconds) check(weft.get_running_loop():advance(seconds), "advance") end

--- Installs handler(ctx) for failures nobody observed (nil restores the
-- default).  ctx = {code=, name=, message=, future=<future/task or nil>}.
function weft.set_exception_handler(handler)
  local loop = weft.get_running_loop()
  if handler == nil then return check(loop:set_exception_handler(nil)) end
  return check(loop:set_exception_handler(function(code, message, future)
    handler({ code = code, name = core.err_name(code), message = message, future = future })
  end))
end

--- The tasks of the running loop that are not done, oldest first.
function weft.all_tasks()
  local rc, tasks = weft.get_running_loop():all_tasks()
  check(rc, "all_tasks")
  return tasks
end

-- ---- tasks ------------------------------------------------------------------------

local spawn = rt.spawn

--- Starts fn(...) as a task of the running loop; returns the task.  The loop
-- owns it until it is done: dropping the task object does not stop it.
function weft.spawn(fn, ...) return spawn(nil, nil, fn, ...) end

--- As weft.spawn, with a task name.
function weft.spawn_named(name, fn, ...) return spawn(nil, name, fn, ...) end

weft.sleep = rt.sleep
weft.await = rt.await
weft.future = rt.future
weft.current_task = rt.current_task
weft.in_task = rt.in_task

--- C interop: the C pointer under a weft object (borrowed, light userdata),
-- and a wrapper for a pointer C hands over (kind "future", "task" or "loop";
-- with `steal` the wrapper takes over the reference C passed along).
weft.pointer = rt.pointer
weft.adopt = rt.adopt

--- Suspends the task for one round of the loop (asyncio.sleep(0)).
weft.yield = rt.yield

-- An awaitable: a future or task as it is, a function spawned as a task.
local function awaitable(x, level)
  if type(x) == "function" then return spawn(nil, nil, x) end
  if type(x) == "userdata" then
    local mt = getmetatable(x)
    -- (each run gives its Lua futures a metatable of their own, lfut_mt's copy)
    if mt == fut_mt or mt == task_mt or (mt and rawget(mt, "__index") == F) then return x end
  end
  error("expected a weft future, task or function, got " .. type(x), level + 1)
end
weft.awaitable = function(x) return awaitable(x, 2) end

local function made(f, what)
  if f == nil then check(core.last_error(), what) end
  return f
end

--- asyncio.gather: a future whose await returns the results of every
-- awaitable, in argument order (the first value of each).  The first failure
-- fails it; with a last argument {return_exceptions = true} failures come
-- back as error objects in their place instead.
function weft.gather(...)
  local n = select("#", ...)
  local opts = n > 0 and select(n, ...) or nil
  local return_exceptions = 0
  if type(opts) == "table" and getmetatable(opts) == nil then
    n = n - 1
    return_exceptions = opts.return_exceptions and 1 or 0
  end
  local list = {}
  for i = 1, n do list[i] = awaitable((select(i, ...)), 2) end
  return made(core.gather(weft.get_running_loop(), list, return_exceptions), "gather")
end

--- asyncio.wait_for: a future with the outcome of `aw`, or failing with
-- ETIMEDOUT (aw is then cancelled) after `timeout` seconds (nil: no limit).
function weft.wait_for(aw, timeout)
  local f = awaitable(aw, 2)
  return made(core.wait_for(weft.get_running_loop(), f, timeout or math.huge), "wait_for")
end

--- asyncio.shield: a future with the outcome of `aw` whose cancellation does
-- not cancel `aw`.
function weft.shield(aw)
  return made(core.shield(weft.get_running_loop(), awaitable(aw, 2)), "shield")
end

-- ---- timeout scopes -----------------------------------------------------------------

local scope_mt = rt.timeout_metatable
local S = copy(scope_mt[".fn"])
scope_mt.__index = S
scope_mt.__tostring = function(self) return self:describe() end
local sw_expired, sw_reschedule = S.expired, S.reschedule
function S.expired(self) return check(sw_expired(self)) == 1 end
--- Moves the deadline to loop time `when` (nil: never).
function S.reschedule(self, when) check(sw_reschedule(self, when or math.huge), "reschedule") end
weft.Timeout = S

local function with_scope(enter, deadline, fn, ...)
  local task = rt.current_task()
  if task == nil then error("weft.timeout outside a weft task", 3) end
  local scope = enter(task, deadline or math.huge)
  if scope == nil then check(core.last_error(), "timeout") end
  local r = table.pack(pcall(fn, scope, ...))
  local status = 0
  if not r[1] then status = rt.error_code(r[2]) or core.EUNHANDLED end
  local rc = scope:exit(status)
  if rc == 0 and r[1] then return table.unpack(r, 2, r.n) end
  if rc == ETIMEDOUT and status == ECANCELED then
    error(error_object(ETIMEDOUT, "timeout expired"), 3)
  end
  if rc ~= status then check(rc, "timeout exit") end
  error(r[2], 0)
end

--- asyncio.timeout: runs fn(scope, ...) in the current task; if it has not
-- finished `delay` seconds from now (nil: never) it is cancelled and this
-- raises an ETIMEDOUT error.  Returns fn's values otherwise.  The scope can
-- be rescheduled from inside (scope:reschedule(weft.time() + 1)).
function weft.timeout(delay, fn, ...) return with_scope(core.timeout_enter, delay, fn, ...) end

--- asyncio.timeout_at: as weft.timeout with a deadline in loop time.
function weft.timeout_at(when, fn, ...) return with_scope(core.timeout_enter_at, when, fn, ...) end

-- ---- name resolution ------------------------------------------------------------------

--- loop.getaddrinfo, inside a task: a list of {family, socktype, protocol,
-- address, port} (list.canonname with flags AI_CANONNAME).  opts: family
-- (weft.AF_INET/AF_INET6), socktype (weft.SOCK_STREAM/...), flags (weft.AI_*).
function weft.getaddrinfo(host, service, opts)
  opts = opts or {}
  if service ~= nil then service = tostring(service) end
  return rt.getaddrinfo(host, service, opts.family, opts.socktype, opts.flags)
end

--- loop.getnameinfo, inside a task: host, service of a numeric address.
function weft.getnameinfo(address, port, flags) return rt.getnameinfo(address, port, flags) end

-- ---- task groups -----------------------------------------------------------------

local tg_mt = rt.taskgroup_metatable
local G = copy(tg_mt[".fn"])
tg_mt.__index = G
tg_mt.__tostring = function(self) return self:describe() end
local sw_tgcancel, sw_aborting = G.cancel, G.aborting

--- group:spawn(fn, ...): a child task of the group (asyncio create_task).
function G.spawn(self, fn, ...) return rt.taskgroup_spawn(self, nil, fn, ...) end
function G.spawn_named(self, name, fn, ...) return rt.taskgroup_spawn(self, name, fn, ...) end
--- group:cancel(): aborts the group from inside; the exit then succeeds.
function G.cancel(self) check(sw_tgcancel(self), "taskgroup cancel") end
function G.aborting(self) return check(sw_aborting(self)) == 1 end
--- The errors collected: a list of {code, name, message, task}.
function G.errors(self)
  local list = {}
  for i = 0, self:error_count() - 1 do
    local code = self:error_code(i)
    list[#list + 1] = { code = code, name = core.err_name(code),
                        message = self:error_message(i), task = self:error_task(i) }
  end
  return list
end
weft.TaskGroup = G

--- asyncio.TaskGroup: runs body(group, ...) in the current task; children
-- spawned with group:spawn(fn, ...) are awaited before this returns.  The
-- first child that fails cancels the others and the body, and this raises
-- an error object with code weft.EGROUP whose .errors lists every failure
-- ({code, name, message, task}; the body's own error last, with .error the
-- value it raised).  Returns the body's values otherwise.
function weft.taskgroup(body, ...)
  local task = rt.current_task()
  if task == nil then error("weft.taskgroup outside a weft task", 2) end
  local g = core.taskgroup_enter(task)
  if g == nil then check(core.last_error(), "taskgroup") end
  local r = table.pack(pcall(body, g, ...))
  local status = 0
  if not r[1] then status = rt.error_code(r[2]) or core.EUNHANDLED end
  local rc = rt.taskgroup_exit(g, status)
  if rc == 0 then
    if r[1] then return table.unpack(r, 2, r.n) end
    if status == ECANCELED then return end -- group:cancel() ended the body
    error(r[2], 0)
  end
  if rc == core.EGROUP then
    local e = error_object(core.EGROUP, g:message())
    e.errors, e.group = g:errors(), g
    if status ~= 0 and status ~= ECANCELED and #e.errors > 0 then
      local last = e.errors[#e.errors]
      last.error, last.message = r[2], last.message or tostring(r[2])
    end
    error(e, 2)
  end
  if rc == status then error(r[2], 0) end
  if rc == ECANCELED then error(error_object(ECANCELED), 2) end
  check(rc, "taskgroup exit")
end

-- ---- synchronization primitives and queues ---------------------------------------------

-- Method tables over SWIG's: waits return futures, 0/1 become booleans,
-- failures raise.
local function class(mt, name)
  local M = copy(mt[".fn"])
  mt.__index = M
  mt.__tostring = function(self) return self:describe() end
  weft[name] = M
  return M, copy(M)
end
local function boolean(fn) return function(self) return check(fn(self)) == 1 end end
local function checked(fn, what) return function(self, ...) return check(fn(self, ...), what) end end
local function new(ctor, what, ...)
  local obj = ctor(weft.get_running_loop(), ...)
  if obj == nil then check(core.last_error(), what) end
  return obj
end

local Ev, ev = class(rt.event_metatable, "Event")
Ev.set, Ev.clear, Ev.is_set = checked(ev.set, "set"), checked(ev.clear, "clear"), boolean(ev.is_set)
function Ev.wait(self) return made(ev.wait(self), "wait") end
--- asyncio.Event: ev:set(), ev:clear(), ev:is_set(), ev:wait() (a future).
function weft.event() return new(core.event_new, "event") end

-- lock:with(fn, ...) / semaphore:with / condition:with: acquire (awaiting),
-- run fn(...), release even if fn raised; returns fn's values.
local function with(self, fn, ...)
  self:acquire():await()
  local r = table.pack(pcall(fn, ...))
  self:release()
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

local Lk, lk = class(rt.lock_metatable, "Lock")
function Lk.acquire(self) return made(lk.acquire(self), "acquire") end
Lk.release, Lk.locked, Lk.with = checked(lk.release, "release"), boolean(lk.locked), with
--- asyncio.Lock: lock:acquire() (a future), lock:release(), lock:locked(),
-- lock:with(fn, ...).
function weft.lock() return new(core.lock_new, "lock") end

local Sm, sm = class(rt.semaphore_metatable, "Semaphore")
function Sm.acquire(self) return made(sm.acquire(self), "acquire") end
Sm.release, Sm.locked, Sm.with = checked(sm.release, "release"), boolean(sm.locked), with
--- asyncio.Semaphore(value) (BoundedSemaphore with bounded = true):
-- acquire (a future), release, locked, value, with.
function weft.semaphore(value, bounded)
  return new(bounded and core.semaphore_new_bounded or core.semaphore_new, "semaphore", value or 1)
end

local Cd, cd = class(rt.condition_metatable, "Condition")
function Cd.acquire(self) return made(cd.acquire(self), "acquire") end
function Cd.wait(self) return made(cd.wait(self), "wait") end
--- cond:wait_for(pred): a future done once pred() is true, with the lock
-- held (pred runs in the wait's task; an error in it is reported to the
-- exception handler and ends the wait).
function Cd.wait_for(self, pred) return made(cd.wait_for(self, pred), "wait_for") end
Cd.release, Cd.locked, Cd.with = checked(cd.release, "release"), boolean(cd.locked), with
function Cd.notify(self, n) return check(cd.notify(self, n or 1), "notify") end
Cd.notify_all = checked(cd.notify_all, "notify_all")
--- asyncio.Condition([lock]): acquire/release/locked/with, wait, wait_for,
-- notify(n), notify_all, lock().
function weft.condition(lock) return new(core.condition_new, "condition", lock) end

local Br, br = class(rt.barrier_metatable, "Barrier")
function Br.wait(self) return made(br.wait(self), "wait") end
Br.reset, Br.abort, Br.broken = checked(br.reset, "reset"), checked(br.abort, "abort"), boolean(br.broken)
--- asyncio.Barrier(parties): wait() (a future of the arrival index), reset,
-- abort, parties, n_waiting, broken, state.
function weft.barrier(parties) return new(core.barrier_new, "barrier", parties) end

local Qu, qu = class(rt.queue_metatable, "Queue")
--- queue:put(value[, priority]): a future done once the value is in.
Qu.put = rt.queue_put
--- queue:put_nowait(value[, priority]): raises EQUEUEFULL when full.
Qu.put_nowait = rt.queue_put_nowait
--- queue:get(): a future of the next value.
function Qu.get(self) return made(qu.get(self), "get") end
--- queue:get_nowait(): the next value; raises EQUEUEEMPTY when empty.
Qu.get_nowait = rt.queue_get_nowait
function Qu.join(self) return made(qu.join(self), "join") end
Qu.task_done = checked(qu.task_done, "task_done")
function Qu.shutdown(self, immediate) check(qu.shutdown(self, immediate and 1 or 0), "shutdown") end
Qu.empty, Qu.full = boolean(qu.empty), boolean(qu.full)
Qu.qsize, Qu.maxsize = checked(qu.qsize, "qsize"), checked(qu.maxsize, "maxsize")
--- asyncio.Queue(maxsize) (0 or nil: unbounded) holding any Lua values;
-- weft.lifo_queue, weft.priority_queue (lowest priority first; put(v, p)).
function weft.queue(maxsize) return new(core.queue_new, "queue", core.QUEUE_FIFO, maxsize or 0) end
function weft.lifo_queue(maxsize) return new(core.queue_new, "queue", core.QUEUE_LIFO, maxsize or 0) end
function weft.priority_queue(maxsize)
  return new(core.queue_new, "queue", core.QUEUE_PRIORITY, maxsize or 0)
end

-- ---- signals ------------------------------------------------------------------------

copy(rt.signals, weft)

--- A future done (with the signal number) at the next delivery of `signum`
-- (weft.SIGINT, weft.SIGTERM, ...).  While it is pending it keeps the loop
-- running.
function weft.signal_wait(signum)
  return made(core.signal_wait(weft.get_running_loop(), signum), "signal_wait")
end

--- Calls fn(signum, ...) on every delivery of `signum` until removed (or the
-- loop closes); replaces a previous handler.  Does not keep the loop running.
function weft.add_signal_handler(signum, fn, ...)
  local args, n = { ... }, select("#", ...)
  check(core.signal_add(weft.get_running_loop(), signum, function(s)
    fn(s, table.unpack(args, 1, n))
  end), "add_signal_handler")
end

--- Removes the handler of `signum`; true if there was one.
function weft.remove_signal_handler(signum)
  return check(core.signal_remove(weft.get_running_loop(), signum), "remove_signal_handler") == 1
end

-- ---- files ------------------------------------------------------------------------

--- A future of the whole content of the file at `path` (a string).
function weft.read_file(path)
  return made(core.fs_read_file(weft.get_running_loop(), path), "read_file")
end

--- A future of writing `data` as the whole file at `path` (created with
-- permission bits `mode`, default 0644, or truncated); its result is #data.
function weft.write_file(path, data, mode)
  return made(core.fs_write_file(weft.get_running_loop(), path, data, mode or 420), "write_file")
end

local open_modes = {
  r = core.FS_READ,
  w = core.FS_WRITE | core.FS_CREATE | core.FS_TRUNCATE,
  a = core.FS_WRITE | core.FS_CREATE | core.FS_APPEND,
}

-- io.open's modes ("r", "w", "a", with "+" for both directions and "x" for
-- exclusive creation), or weft.FS_* bits.
local function open_flags(mode)
  if math.type(mode) == "integer" then return mode end
  mode = mode or "r"
  local flags = open_modes[mode:sub(1, 1)]
  if flags == nil or not mode:match("^[rwa][+x]*b?$") then
    error("bad open mode " .. string.format("%q", mode), 3)
  end
  if mode:find("+", 1, true) then flags = flags | core.FS_READ | core.FS_WRITE end
  if mode:find("x", 1, true) then flags = flags | core.FS_EXCLUSIVE end
  return flags
end

--- Opens a file, inside a task: a file object whose read, write and close
-- return futures.  `mode` is as io.open's ("r", "w", "a", "r+", "wx", ...)
-- or weft.FS_* bits; `perm` the permission bits of a created file (0644).
function weft.open(path, mode, perm)
  return rt.open(path, open_flags(mode), perm)
end

local file_mt = rt.file_metatable
local Fl = copy(file_mt[".fn"])
file_mt.__index = Fl
local sw_fread, sw_fwrite, sw_fclose = Fl.read, Fl.write, Fl.close
--- file:read([max [, offset]]): a future of up to `max` bytes (default
-- 65536) at `offset` (default: the current position); "" at the end.
function Fl.read(self, max, offset) return made(sw_fread(self, offset or -1, max or 65536), "read") end
--- file:write(data [, offset]): a future of #data, written at `offset`
-- (default: the current position, or the end in append mode).
function Fl.write(self, data, offset) return made(sw_fwrite(self, offset or -1, data), "write") end
--- file:close(): a future done once the file is closed.
function Fl.close(self) return made(sw_fclose(self), "close") end
weft.File = Fl

-- ---- streams and servers -------------------------------------------------------------

local stream_mt, server_mt = rt.stream_metatable, rt.server_metatable
local St = copy(stream_mt[".fn"])
stream_mt.__index = St
stream_mt.__tostring = function(self)
  local ok, addr, port = pcall(self.peer_address, self)
  return string.format("<weft stream %s>", ok and addr and (addr .. ":" .. tostring(port)) or "")
end
local sw = copy(St)
--- stream:read([n]): a future of up to n bytes (default 65536; "" at end
-- of file; n < 0 reads to the end).
function St.read(self, n) return made(sw.read(self, n or 65536), "read") end
--- stream:read_exactly(n): a future of exactly n bytes (EINCOMPLETE if the
-- end of file comes first: what did arrive is then stream:partial()).
function St.read_exactly(self, n) return made(sw.read_exactly(self, n), "read_exactly") end
--- stream:read_until(delim): a future of the bytes up to and including delim.
function St.read_until(self, delim) return made(sw.read_until(self, delim), "read_until") end
--- stream:read_line(): a future of one line, "\n" included ("" at the end).
function St.read_line(self) return made(sw.read_line(self), "read_line") end
--- stream:read_into(buffer), inside a task: reads up to #buffer bytes into
-- a weft.buffer (weft_stream_read_into: no intermediate string) and returns
-- how many, 0 at end of file; buffer:tostring(1, n) reads them.
function St.read_into(self, buffer) return rt.stream_read_into(self, buffer) end
--- stream:write(data): queues data (what the kernel does not take at once
-- is copied); raises on a closed or failed stream.
function St.write(self, data) check(sw.write(self, data), "write") end
--- stream:drain(): a future done once the write queue is small enough.
function St.drain(self) return made(sw.drain(self), "drain") end
function St.write_eof(self) check(sw.write_eof(self), "write_eof") end
function St.close(self) check(sw.close(self), "close") end
function St.abort(self) check(sw.abort(self), "abort") end
function St.wait_closed(self) return made(sw.wait_closed(self), "wait_closed") end
function St.at_eof(self) return check(sw.at_eof(self)) == 1 end
function St.is_closing(self) return sw.is_closing(self) == 1 end
function St.set_limit(self, n) check(sw.set_limit(self, n), "set_limit") end
function St.set_write_buffer_limits(self, high, low)
  check(sw.set_write_buffer_limits(self, high or 0, low or 0), "set_write_buffer_limits")
end
function St.set_nodelay(self, on) check(sw.set_nodelay(self, on and 1 or 0), "set_nodelay") end
function St.set_keepalive(self, on, delay)
  check(sw.set_keepalive(self, on and 1 or 0, delay or 0), "set_keepalive")
end
local function sized(fn, what)
  return function(self)
    local rc, n = fn(self)
    check(rc, what)
    return n
  end
end
St.read_buffer_size = sized(sw.read_buffer_size, "read_buffer_size")
--- stream:partial(): the bytes the last read_exactly / read_until that
-- failed with EINCOMPLETE received (asyncio IncompleteReadError.partial).
function St.partial(self)
  local rc, data = sw.partial(self)
  check(rc, "partial")
  return data
end
St.write_buffer_size = sized(sw.write_buffer_size, "write_buffer_size")
local function address(fn, what)
  return function(self)
    local addr, port = fn(self)
    if addr == nil then check(core.last_error() < 0 and core.last_error() or core.EINVAL, what) end
    return addr, port
  end
end
--- stream:peer_address() / local_address(): address, port (-1 for Unix).
St.peer_address = address(sw.peer_address, "peer_address")
St.local_address = address(sw.local_address, "local_address")
weft.Stream = St
--- weft.buffer(size): a mutable buffer of size bytes for stream:read_into
-- (#buffer is its size; buffer:tostring([i [, j]]) copies bytes out, with
-- string.sub's rules).
weft.buffer = rt.buffer

local function await_stream(f)
  f:await()
  return made(core.stream_from_future(f), "stream")
end

--- asyncio.open_connection, inside a task: a stream connected to host:port
-- (a name is resolved and its addresses tried in order).
function weft.connect(host, port)
  return await_stream(made(core.stream_connect_tcp(weft.get_running_loop(), host, port), "connect"))
end

--- The same for a Unix domain socket at `path`.
function weft.connect_unix(path)
  return await_stream(made(core.stream_connect_unix(weft.get_running_loop(), path), "connect_unix"))
end

local Sv = copy(server_mt[".fn"])
server_mt.__index = Sv
server_mt.__tostring = function(self)
  local addr, port = self:address()
  return string.format("<weft server %s:%s>", tostring(addr), tostring(port))
end
local sv = copy(Sv)
--- server:serve(handler, ...): every connection runs handler(stream, ...)
-- as a new task; the stream is closed when nobody holds it any more.
function Sv.serve(self, handler, ...)
  local args, n = { ... }, select("#", ...)
  check(sv.serve(self, function(stream)
    spawn(nil, nil, handler, stream, table.unpack(args, 1, n))
  end), "serve")
end
function Sv.is_serving(self) return sv.is_serving(self) == 1 end
function Sv.close(self) check(sv.close(self), "close") end
function Sv.close_clients(self) return check(sv.close_clients(self), "close_clients") end
function Sv.wait_closed(self) return made(sv.wait_closed(self), "wait_closed") end
Sv.address = address(sv.address, "address")
--- server:addresses(): every listening socket's address and port, as a
-- list of {address, port} (asyncio Server.sockets: a host name or no host
-- listens on each address it resolves to).
function Sv.addresses(self)
  local out = {}
  for i = 0, check(sv.socket_count(self), "socket_count") - 1 do
    local addr, port = sv.socket_address(self, i)
    if addr == nil then check(core.last_error() < 0 and core.last_error() or core.EINVAL, "socket_address") end
    out[#out + 1] = {addr, port}
  end
  return out
end
weft.Server = Sv

local function listen(f, handler, ...)
  f:await()
  local server = made(core.server_from_future(f), "listen")
  if handler ~= nil then server:serve(handler, ...) end
  return server
end

--- asyncio.start_server, inside a task: listens on host:port (nil host:
-- every IPv4 address; port 0: a free one, see server:address()) and serves
-- each connection with handler(stream, ...) in its own task (without a
-- handler, call server:serve(handler) later).  opts.backlog (100).
function weft.start_server(handler, host, port, opts, ...)
  opts = opts or {}
  return listen(made(core.server_listen_tcp(weft.get_running_loop(), host, port or 0,
                                            opts.backlog or 0), "start_server"), handler, ...)
end

--- The same on a Unix domain socket at `path`.
function weft.start_unix_server(handler, path, opts, ...)
  opts = opts or {}
  return listen(made(core.server_listen_unix(weft.get_running_loop(), path, opts.backlog or 0),
                     "start_unix_server"), handler, ...)
end

-- ---- subprocesses ------------------------------------------------------------------

local process_mt = rt.process_metatable
local Pr = copy(process_mt[".fn"])
process_mt.__index = Pr
process_mt.__tostring = function(self) return "<weft process " .. tostring(self:pid()) .. ">" end
local pr = copy(Pr)
--- process:wait(): a future of the return code (the exit status, or minus
-- the signal that ended it); cancelling it kills the process.
function Pr.wait(self) return made(pr.wait(self), "wait") end
--- process:exit_status(): exit status (-1 if a signal ended it), signal.
function Pr.exit_status(self)
  local rc, status, sig = pr.exit_status(self)
  check(rc, "exit_status")
  return status, sig
end
function Pr.send_signal(self, signum) check(pr.send_signal(self, signum), "send_signal") end
function Pr.kill(self) self:send_signal(rt.signals.SIGKILL or 9) end
function Pr.terminate(self) self:send_signal(rt.signals.SIGTERM) end
weft.Process = Pr

local stdio = { inherit = core.STDIO_INHERIT, pipe = core.STDIO_PIPE, devnull = core.STDIO_DEVNULL }
local function stdio_mode(v, name)
  if v == nil then return core.STDIO_INHERIT end
  local m = stdio[v] or (math.type(v) == "integer" and v)
  if not m then error("bad " .. name .. " mode " .. tostring(v), 3) end
  return m
end

--- asyncio.create_subprocess_exec: starts argv[1] (searched in PATH) with
-- the arguments argv[2..].  opts: stdin, stdout, stderr ("inherit", "pipe"
-- or "devnull"), env (a table {NAME = value} or a list of "NAME=value"; nil
-- inherits), cwd.  Returns the process; process.stdin/stdout/stderr are
-- streams for the pipes.
function weft.exec(argv, opts)
  opts = opts or {}
  local env = opts.env
  if env ~= nil and #env == 0 then
    local list = {}
    for k, v in pairs(env) do list[#list + 1] = k .. "=" .. tostring(v) end
    table.sort(list)
    env = list
  end
  local p = core.process_spawn(weft.get_running_loop(), argv, env, opts.cwd,
    stdio_mode(opts.stdin, "stdin"), stdio_mode(opts.stdout, "stdout"),
    stdio_mode(opts.stderr, "stderr"))
  if p == nil then check(core.last_error(), "exec " .. tostring(argv[1])) end
  return p
end

-- process.stdin / .stdout / .stderr as fields: streams, or nil for no pipe
local pr_index = Pr
process_mt.__index = function(self, key)
  if key == "stdin" or key == "stdout" or key == "stderr" then return pr[key](self) end
  return pr_index[key]
end

-- ---- UDP ------------------------------------------------------------------------------

local udp_mt = rt.udp_metatable
local U = copy(udp_mt[".fn"])
udp_mt.__index = U
udp_mt.__tostring = function(self)
  return string.format("<weft udp %s:%s>", tostring(self:local_address()), tostring(self:local_port()))
end
local uw = copy(U)
--- udp:send(data[, host, port]): a future of #data once the kernel took it
-- (host nil: the connected peer).
function U.send(self, data, host, port)
  if host == nil then return made(uw.send(self, data), "send") end
  return made(uw.send(self, data, host, port), "send")
end
--- udp:recv(), inside a task: data, address, port, family of one datagram.
U.recv = rt.udp_recv
function U.close(self) check(uw.close(self), "close") end
function U.connect(self, host, port) check(uw.connect(self, host, port), "connect") end
function U.set_broadcast(self, on) check(uw.set_broadcast(self, on and 1 or 0), "set_broadcast") end
function U.set_ttl(self, ttl) check(uw.set_ttl(self, ttl), "set_ttl") end
function U.set_queue_limit(self, n) check(uw.set_queue_limit(self, n), "set_queue_limit") end
weft.Udp = U

--- A UDP socket bound to host:port (numeric; port 0: a free one).
-- opts.flags: weft.UDP_REUSEADDR, weft.UDP_IPV6ONLY.
function weft.udp_open(host, port, opts)
  opts = opts or {}
  local u = core.udp_open(weft.get_running_loop(), host, port or 0, opts.flags or 0)
  if u == nil then check(core.last_error(), "udp_open") end
  return u
end

-- ---- the thread pool ----------------------------------------------------------------

--- asyncio.to_thread for C: runs a C work function (a weft_work_fn handed
-- out by a C module as a light userdata) with `userdata` on libuv's thread
-- pool and returns a future for its outcome.  Lua code cannot run there.
function weft.to_thread(work, userdata) return rt.to_thread(work, userdata) end

-- ---- wait and as_completed ------------------------------------------------------------

local function key(x) return weft.pointer(getmetatable(x) == task_mt and x:future() or x) end
local when_names = { ALL_COMPLETED = core.WAIT_ALL_COMPLETED,
  FIRST_COMPLETED = core.WAIT_FIRST_COMPLETED, FIRST_EXCEPTION = core.WAIT_FIRST_EXCEPTION }

--- asyncio.wait, inside a task: waits for the awaitables of the list `aws`
-- until opts.return_when ("ALL_COMPLETED", "FIRST_COMPLETED",
-- "FIRST_EXCEPTION") or opts.timeout seconds; returns two lists, done and
-- pending, of the objects given (functions are spawned first), in argument
-- order.  Nothing is cancelled.
function weft.wait(aws, opts)
  opts = opts or {}
  local list, by_key = {}, {}
  for i, x in ipairs(aws) do
    list[i] = awaitable(x, 2)
    by_key[key(list[i])] = list[i]
  end
  local when = when_names[opts.return_when or "ALL_COMPLETED"] or opts.return_when
  local w = made(core.wait(weft.get_running_loop(), list, opts.timeout or math.huge, when), "wait")
  w:await()
  local done, pending = {}, {}
  for i = 0, check(core.wait_done_count(w)) - 1 do
    done[#done + 1] = by_key[weft.pointer(core.wait_done_at(w, i))]
  end
  for i = 0, check(core.wait_pending_count(w)) - 1 do
    pending[#pending + 1] = by_key[weft.pointer(core.wait_pending_at(w, i))]
  end
  return done, pending
end

--- asyncio.as_completed: an iterator for a generic for, inside a task:
--   for nxt in weft.as_completed(aws, timeout) do local v = nxt:await() end
-- each nxt is a future with the outcome of the next awaitable to finish
-- (ETIMEDOUT for those left when `timeout` passes); weft.completed_source(nxt)
-- gives the awaitable it came from, once nxt is done.
function weft.as_completed(aws, timeout)
  local list = {}
  for i, x in ipairs(aws) do list[i] = awaitable(x, 2) end
  local it = core.as_completed_new(weft.get_running_loop(), list, timeout or math.huge)
  if it == nil then check(core.last_error(), "as_completed") end
  return function()
    if it:remaining() <= 0 then return nil end
    return made(it:next(), "as_completed")
  end
end

--- The input whose outcome an as_completed future `nxt` carries (once done).
function weft.completed_source(nxt)
  local src = core.as_completed_source(nxt)
  if src == nil then check(core.last_error(), "completed_source") end
  return src
end

--- A future done after `delay` seconds (with no value), for combinators.
function weft.sleep_future(delay)
  return made(core.sleep(weft.get_running_loop(), delay), "sleep_future")
end

return weft
