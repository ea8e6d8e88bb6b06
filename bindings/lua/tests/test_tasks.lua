-- Tasks: coroutines driven by weft tasks.
local T = require "harness"
local weft = require "weft"

T.test("spawn passes arguments and returns every value", function()
  local t = weft.spawn(function(a, b, c) return c, b, a end, 1, "two", { 3 })
  local x, y, z = t:await()
  T.eq(x[1], 3); T.eq(y, "two"); T.eq(z, 1)
  T.eq(t:done(), true)
  -- awaiting a done task again gives the same values, without suspending
  T.eq(select(2, t:await()), "two")
  T.eq(select(2, t:result()), "two")
end)

T.test("tasks interleave at their awaits, in spawn order", function()
  local log = {}
  local function worker(name, n)
    for i = 1, n do log[#log + 1] = name .. i; weft.yield() end
  end
  local a = weft.spawn(worker, "a", 3)
  local b = weft.spawn(worker, "b", 3)
  a:await(); b:await()
  T.eq(table.concat(log, " "), "a1 b1 a2 b2 a3 b3")
end)

T.test("sleep orders by deadline and returns its extra values", function()
  local log = {}
  local ts = {}
  for i, d in ipairs({ 0.3, 0.1, 0.2 }) do
    ts[i] = weft.spawn(function() weft.sleep(d); log[#log + 1] = d end)
  end
  for _, t in ipairs(ts) do t:await() end
  T.eq(table.concat(log, ","), "0.1,0.2,0.3")
  local t0 = weft.time()
  T.eq(select(2, weft.sleep(5, "a", "b")), "b")
  T.eq(weft.time() - t0 >= 5, true)
  T.eq(select("#", weft.sleep(0)), 0)
end)

T.test("names", function()
  local t = weft.spawn_named("worker-1", function() weft.yield() end)
  T.eq(t:name(), "worker-1")
  t:set_name("renamed")
  T.eq(t:get_name(), "renamed")
  T.contains(tostring(t), "renamed")
  local u = weft.spawn(function() end)
  T.contains(u:name(), "Task-")
  t:await(); u:await()
  T.eq(weft.current_task():name(), "main")
end)

T.test("current_task and in_task", function()
  local me = weft.current_task()
  T.eq(weft.in_task(), true)
  local inner
  inner = weft.spawn(function() return weft.current_task() == inner end)
  T.eq(inner:await(), true)
  T.eq(inner == me, false)
  -- a coroutine of your own is not a task
  local co = coroutine.wrap(function() return weft.in_task(), weft.current_task() end)
  local in_task, cur = co()
  T.eq(in_task, false); T.eq(cur, nil)
end)

T.test("cancel a waiting task: it sees a cancelled error at its await", function()
  local cleaned = false
  local f = weft.future()
  local t = weft.spawn(function()
    local ok, e = pcall(f.await, f)
    cleaned = not ok and weft.is_cancelled(e) and e.message == "go away"
    error(e, 0) -- propagate
  end)
  weft.yield()
  T.eq(t:cancel("go away"), true)
  local e = T.raises_code(weft.ECANCELED, t.await, t)
  T.eq(e.message, "go away")
  T.eq(cleaned, true)
  T.eq(t:cancelled(), true)
  T.eq(f:cancelled(), true) -- the future it awaited was cancelled
  T.eq(t:cancel(), false)   -- done: nothing to cancel
end)

T.test("cancel a sleeping task", function()
  local t = weft.spawn(weft.sleep, 100)
  weft.yield()
  t:cancel()
  T.raises_code(weft.ECANCELED, t.await, t)
  T.eq(weft.time() < 100, true)
end)

T.test("cancel a sleeping task with a message: the sleep raises it", function()
  local seen
  local t = weft.spawn(function()
    local ok, e = pcall(weft.sleep, 100)
    seen = not ok and weft.is_cancelled(e) and e.message
    error(e, 0)
  end)
  weft.yield()
  T.eq(t:cancel("wake up"), true)
  local e = T.raises_code(weft.ECANCELED, t.await, t)
  T.eq(seen, "wake up")
  T.eq(e.message, "wake up")
end)

T.test("cancelled after the awaited future completed: the message arrives at that await", function()
  local seen
  local f = weft.future()
  local t = weft.spawn(function()
    local ok, e = pcall(f.await, f)
    seen = not ok and weft.is_cancelled(e) and e.message
    return "swallowed"
  end)
  weft.yield()
  f:set_result(1)
  T.eq(t:cancel("too late"), true)
  T.eq(t:await(), "swallowed")
  T.eq(seen, "too late")
end)

T.test("cancel before the first step: the function never runs", function()
  local ran = false
  local t = weft.spawn(function() ran = true end)
  T.eq(t:cancel("early"), true)
  T.raises_code(weft.ECANCELED, t.await, t)
  T.eq(ran, false)
  T.eq(t:error_message(), "early")
end)

T.test("swallowing a cancellation: uncancel and carry on", function()
  local t = weft.spawn(function()
    local ok = pcall(weft.sleep, 10)
    assert(not ok)
    local me = weft.current_task()
    T.eq(me:cancelling(), 1)
    T.eq(me:uncancel(), 0)
    weft.sleep(1)
    return "survived"
  end)
  weft.yield()
  t:cancel()
  T.eq(t:await(), "survived")
  T.eq(t:cancelled(), false)
end)

T.test("a Lua error fails the task with EUNHANDLED and a traceback", function()
  local function deep() error("kaboom") end
  local t = weft.spawn(function() deep() end)
  local e = T.raises_code(weft.EUNHANDLED, t.await, t)
  T.contains(e.message, "kaboom")
  T.contains(e.message, "stack traceback")
  T.contains(e.message, "deep")
  T.eq(t:exception().code, weft.EUNHANDLED)
  -- non-string error values are described
  local u = weft.spawn(function() error({}) end)
  T.contains(T.raises_code(weft.EUNHANDLED, u.await, u).message, "table value")
end)

T.test("an error object keeps its code through tasks", function()
  local t = weft.spawn(function() error(weft.error(weft.ECONNREFUSED, "no one there")) end)
  local u = weft.spawn(function() return t:await() end)
  local e = T.raises_code(weft.ECONNREFUSED, u.await, u)
  T.eq(e.message, "no one there")
  T.eq(tostring(e), "ECONNREFUSED: no one there")
end)

T.test("await misuse: itself, outside a task, in a nested coroutine", function()
  local t
  t = weft.spawn(function() return pcall(t.await, t) end)
  local ok, e = t:await()
  T.eq(ok, false); T.eq(e.code, weft.EAWAITSELF)
  local f = weft.future()
  local co = coroutine.wrap(function() return pcall(f.await, f) end)
  ok, e = co()
  T.eq(ok, false); T.contains(e, "outside a weft task")
  -- a callback is not a task either
  local msg
  weft.call_soon(function() msg = select(2, pcall(weft.sleep, 1)) end)
  weft.yield(); weft.yield()
  T.contains(msg, "outside a weft task")
  f:cancel()
end)

T.test("a bare coroutine.yield fails the task", function()
  local t = weft.spawn(function() coroutine.yield(1) end)
  local e = T.raises_code(weft.EUNHANDLED, t.await, t)
  T.contains(e.message, "coroutine.yield")
end)

T.test("coroutines inside a task still work as generators", function()
  local t = weft.spawn(function()
    local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
    local s = 0
    for _ = 1, 3 do s = s + gen(); weft.yield() end
    return s
  end)
  T.eq(t:await(), 6)
end)

T.test("to-be-closed variables close when a task is cancelled", function()
  local closed = false
  local t = weft.spawn(function()
    local guard <close> = setmetatable({}, { __close = function() closed = true end })
    weft.sleep(10)
  end)
  weft.yield()
  t:cancel()
  pcall(t.await, t)
  T.eq(closed, true)
end)

T.test("a dropped task keeps running", function()
  local done = false
  weft.spawn(function() weft.sleep(1); collectgarbage(); done = true end)
  collectgarbage(); collectgarbage()
  weft.sleep(2)
  T.eq(done, true)
end)

T.test("all_tasks lists pending tasks, oldest first", function()
  local a = weft.spawn_named("a", weft.sleep, 1)
  local b = weft.spawn_named("b", weft.sleep, 2)
  local names = {}
  for _, t in ipairs(weft.all_tasks()) do names[#names + 1] = t:name() end
  T.eq(table.concat(names, ","), "main,a,b")
  a:await(); b:await()
  T.eq(#weft.all_tasks(), 1)
end)

T.test("awaiting: what a task is suspended on", function()
  local f = weft.future()
  local t = weft.spawn(function() return f:await() end)
  weft.yield()
  T.eq(t:awaiting(), f)
  f:set_result(3)
  T.eq(t:await(), 3)
  T.eq(t:awaiting(), nil)
end)

T.test("many tasks", function()
  local ts = {}
  for i = 1, 2000 do ts[i] = weft.spawn(function(n) weft.yield(); return n end, i) end
  local sum = 0
  for i = 1, 2000 do sum = sum + ts[i]:await() end
  T.eq(sum, 2000 * 2001 // 2)
end)

T.run()
