-- The loop: weft.run, callbacks and handles, the exception handler, hooks,
-- introspection, and the raw loop object.
local T = require "harness"
local weft = require "weft"

T.plain("run: errors, nesting, deadlock", function()
  local e = T.raises_code(weft.EUNHANDLED, weft.run, function() error("main failed") end)
  T.contains(e.message, "main failed")
  e = T.raises_code(weft.ETIMEDOUT, weft.run, function() error(weft.error(weft.ETIMEDOUT)) end)
  -- a main task that waits for nothing that can come
  e = T.raises_code(weft.EDEADLOCK, weft.run, function() weft.future():await() end)
  -- nested run
  weft.run(function()
    local msg = select(2, pcall(weft.run, function() end))
    T.contains(msg, "cannot be called while a weft loop is running")
  end)
  -- run from inside a coroutine of the main program
  local co = coroutine.wrap(function() return weft.run(function() weft.sleep(0.001); return "co" end) end)
  T.eq(co(), "co")
  T.raises(weft.run, "not a function")
  -- options first
  T.eq(weft.run({ virtual_time = true }, function(x) weft.sleep(3600); return x end, 9), 9)
end)

T.plain("run closes the loop: pending tasks are cancelled and clean up", function()
  local cleaned = 0
  local stuck
  weft.run(function()
    for _ = 1, 3 do
      weft.spawn(function()
        local ok, e = pcall(weft.sleep, 100)
        if not ok and weft.is_cancelled(e) then cleaned = cleaned + 1 end
        error(e, 0)
      end)
    end
    stuck = weft.spawn(function() weft.future():await() end)
    weft.yield()
  end)
  T.eq(cleaned, 3)
  T.eq(stuck:cancelled(), true)
  T.eq(stuck:get_loop():is_closed(), 1)
end)

T.test("call_soon, call_later, call_at: order, arguments, handles", function()
  local log = {}
  local t0 = weft.time()
  weft.call_later(0.2, function(x) log[#log + 1] = x end, "later")
  weft.call_at(t0 + 0.1, function(x) log[#log + 1] = x end, "at")
  weft.call_soon(function(a, b) log[#log + 1] = a .. b end, "so", "on")
  local h = weft.call_soon(function() log[#log + 1] = "cancelled" end)
  T.eq(h:cancel(), true)
  T.eq(h:cancelled(), true)
  T.eq(h:cancel(), false)
  weft.sleep(0.3)
  T.eq(table.concat(log, " "), "soon at later")
  local h2 = weft.call_later(5, function() end)
  T.eq(h2:when() >= t0 + 5, true)
  h2:cancel()
  -- the raw layer reports the status to the callback
  local status
  local rc, h3 = weft.get_running_loop():call_soon(function(s) status = s end)
  T.eq(rc, 0)
  h3:cancel()
  weft.yield()
  T.eq(status, weft.ECANCELED)
  local tsf
  T.eq(weft.get_running_loop():call_soon_threadsafe(function(s) tsf = s end), 0)
  T.wait_until(function() return tsf ~= nil end, "the call_soon_threadsafe callback ran")
  T.eq(tsf, 0)
end)

T.test("time and the virtual clock", function()
  local t0 = weft.time()
  T.eq(math.type(t0), "float")
  weft.sleep(3600)
  T.eq(weft.time() - t0 >= 3600, true)
  local t1 = weft.time()
  weft.advance(10)
  T.eq(weft.time() - t1 >= 10, true)
  T.raises_code(weft.EINVAL, weft.advance, -1)
end)

T.realtime("a real-time loop refuses advance", function()
  T.raises_code(weft.ESTATE, weft.advance, 1)
  local t0 = weft.time()
  weft.sleep(0.01)
  T.eq(weft.time() > t0, true)
end)

T.test("unobserved failures reach the exception handler", function()
  local reports = {}
  weft.set_exception_handler(function(ctx) reports[#reports + 1] = ctx end)
  do
    local t = weft.spawn(function() error("nobody reads me") end)
    weft.yield(); weft.yield()
    T.eq(t:done(), true)
  end
  collectgarbage(); collectgarbage()
  weft.yield(); weft.yield()
  T.eq(#reports, 1)
  T.eq(reports[1].code, weft.EUNHANDLED)
  T.contains(reports[1].message, "never retrieved")
  T.contains(reports[1].future:error_message(), "nobody reads me")
  -- a callback error
  weft.call_soon(function() error("callback broke") end)
  weft.yield(); weft.yield()
  T.eq(#reports, 2)
  T.contains(reports[2].message, "callback broke")
  -- call_exception_handler from Lua
  local loop = weft.get_running_loop()
  T.eq(loop:call_exception_handler(weft.EIO, "by hand"), 0)
  weft.yield()
  T.eq(reports[3].message, "by hand")
  T.eq(reports[3].future, nil)
  -- a handler that fails falls back to the default one (stderr), the loop goes on
  weft.set_exception_handler(function() error("handler broke") end)
  loop:call_exception_handler(weft.EIO, "to stderr (expected in the test log)")
  weft.yield()
  weft.set_exception_handler(nil)
  loop:default_exception_handler(weft.EIO, "default handler, by hand (expected in the test log)")
end)

T.test("iteration hook runs once per iteration until removed", function()
  local loop = weft.get_running_loop()
  local n = 0
  T.eq(loop:set_iteration_hook(function() n = n + 1 end), 0)
  weft.sleep(0.1); weft.sleep(0.1)
  T.eq(n >= 2, true)
  T.eq(loop:set_iteration_hook(nil), 0)
  local m = n
  weft.sleep(0.1)
  T.eq(n, m)
  -- a failing hook is reported and stays installed (each report is new
  -- work, so a hook failing every time would keep a virtual clock still)
  local reports, calls = 0, 0
  weft.set_exception_handler(function() reports = reports + 1 end)
  loop:set_iteration_hook(function() calls = calls + 1; if calls == 1 then error("hook") end end)
  weft.sleep(0.1)
  T.eq(calls >= 2, true)
  loop:set_iteration_hook(nil)
  weft.yield()
  T.eq(reports >= 1, true)
  weft.set_exception_handler(nil)
end)

T.test("dump_tasks, current_task, all_tasks on the loop", function()
  local loop = weft.get_running_loop()
  local t = weft.spawn_named("sleepy", weft.sleep, 5)
  weft.yield()
  local lines = {}
  local rc = loop:dump_tasks(function(line) lines[#lines + 1] = line end)
  T.eq(rc, 2)
  T.contains(table.concat(lines), "sleepy")
  T.eq(loop:current_task(), weft.current_task())
  local rc2, tasks = loop:all_tasks()
  T.eq(rc2, 2); T.eq(#tasks, 2)
  T.eq(loop:dump_tasks_fd(-1) < 0, true)
  t:cancel()
  pcall(t.await, t)
end)

T.test("hold, release, stop, run state", function()
  local loop = weft.get_running_loop()
  T.eq(loop:is_running(), 1)
  T.eq(weft.core.loop.running(), loop)
  T.eq(loop:hold(), 0)
  T.eq(loop:release(), 0)
  T.eq(loop:release(), weft.ESTATE)
  T.eq(loop:is_closed(), 0)
  T.eq(loop:run(), weft.ERUNNING) -- not re-entrant
  T.eq(loop:close(), weft.ERUNNING)
  T.eq(loop:backend_fd() >= 0, true)
  T.eq(math.type(loop:backend_timeout()), "integer")
end)

T.plain("a loop by hand: run, run_until, stop, close", function()
  local loop = weft.new_loop()
  T.eq(weft.core.loop.running(), nil)
  local t = weft.core.rt.spawn(loop, "by-hand", function(x) weft.sleep(0.001); return x end, 5)
  T.eq(loop:run_until(t), 0)
  T.eq(t:result(), 5)
  local n = 0
  local rc, h = loop:call_soon(function() n = n + 1; loop:stop() end)
  T.eq(loop:run(weft.RUN_FOREVER), 0)
  T.eq(n, 1)
  T.eq(loop:run(weft.RUN_NOWAIT), 0)
  loop:call_soon(function() n = n + 1 end) -- RUN_ONCE blocks for work when there is none
  T.eq(loop:run(weft.RUN_ONCE), 0)
  T.eq(n, 2)
  T.eq(loop:run(), 0)
  T.eq(loop:run(99), weft.EINVAL)
  -- a task left pending is cancelled by close, and cleans up in Lua
  local cleaned = false
  local stuck = weft.core.rt.spawn(loop, nil, function()
    local ok = pcall(weft.sleep, 10); cleaned = not ok
  end)
  loop:run(weft.RUN_ONCE)
  T.eq(loop:close(), 0)
  T.eq(cleaned, true)
  T.eq(stuck:done(), true)
  T.eq(loop:is_closed(), 1)
  T.eq(loop:close(), 0)
  T.eq(loop:run(), weft.ECLOSED)
  T.raises(weft.core.rt.spawn, loop, nil, function() end)
  T.eq(h:cancelled(), false)
end)

T.plain("close with a task that swallows every cancellation: EBUSY, then retry", function()
  local loop = weft.new_loop()
  local stubborn = true
  local t = weft.core.rt.spawn(loop, nil, function()
    while stubborn do
      pcall(weft.sleep, 10)
      weft.current_task():uncancel()
    end
  end)
  loop:run(weft.RUN_ONCE)
  T.eq(loop:close(), weft.EBUSY)
  stubborn = false
  T.eq(loop:close(), 0)
  T.eq(t:done(), true)
end)

T.test("timeout scopes", function()
  local t0 = weft.time()
  local e = T.raises_code(weft.ETIMEDOUT, weft.timeout, 1, function() weft.sleep(10) end)
  T.eq(weft.is_timeout(e), true)
  T.eq(weft.time() - t0 < 2, true)
  -- in time: the values come back
  local a, b = weft.timeout(5, function(scope, x)
    T.eq(scope:expired(), false)
    T.contains(tostring(scope), "active")
    weft.sleep(1)
    return x, "b"
  end, "a")
  T.eq(a, "a"); T.eq(b, "b")
  -- reschedule from inside
  T.raises_code(weft.ETIMEDOUT, weft.timeout, nil, function(scope)
    T.eq(scope:when(), math.huge)
    scope:reschedule(weft.time() + 1)
    weft.sleep(10)
  end)
  -- timeout_at, and an error that is not the timeout passes through
  T.raises_code(weft.EPIPE, weft.timeout_at, weft.time() + 10, function()
    error(weft.error(weft.EPIPE, "broken"))
  end)
  local msg = select(2, pcall(weft.timeout, 10, function() error("plain") end))
  T.contains(msg, "plain")
  -- a cancel from outside stays a cancellation
  local inner = weft.spawn(function() return weft.timeout(10, function(_, d) weft.sleep(d) end, 5) end)
  weft.yield()
  inner:cancel()
  T.raises_code(weft.ECANCELED, inner.await, inner)
  -- the scope object after its end
  local kept
  pcall(weft.timeout, 0, function(scope) kept = scope; weft.sleep(1) end)
  T.eq(kept:expired(), true)
  T.eq(kept:state(), weft.TIMEOUT_EXPIRED)
end)

T.realtime("name resolution", function()
  local list = weft.getaddrinfo("127.0.0.1", 8080, { socktype = weft.SOCK_STREAM,
                                                     flags = weft.AI_NUMERICHOST })
  T.eq(#list >= 1, true)
  T.eq(list[1].address, "127.0.0.1")
  T.eq(list[1].port, 8080)
  T.eq(list[1].family, weft.AF_INET)
  T.eq(list[1].socktype, weft.SOCK_STREAM)
  local host, service = weft.getnameinfo("127.0.0.1", 80, weft.NI_NUMERICHOST | weft.NI_NUMERICSERV)
  T.eq(host, "127.0.0.1"); T.eq(service, "80")
  T.raises_code(weft.EINVAL, weft.getaddrinfo, nil, nil)
  T.raises_code(weft.EINVAL, weft.getnameinfo, "not an address", 1)
  -- cancelled while resolving
  local t = weft.spawn(weft.getaddrinfo, "localhost", "http")
  t:cancel()
  T.raises_code(weft.ECANCELED, t.await, t)
end)

T.run()
