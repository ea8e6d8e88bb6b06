-- Lua futures: weft.future() inside a run keeps its state in Lua until C
-- needs a C future (runtime.c, "Lua futures").  These are the edges of that
-- fast path: C awaiting one a Lua task already awaits, a second awaiter,
-- cancellation from either side while a task waits, the loop closing under
-- a waiting task, garbage collection mid-flight, other loops.
local T = require "harness"
local weft = require "weft"
local testc = require "weft_testc"
local rt = weft.core.rt

local function loop_ptr() return weft.pointer(weft.get_running_loop()) end
local function materialised(f) return getmetatable(f) == rt.future_metatable end
local function collect() collectgarbage(); collectgarbage() end

T.test("a Lua future stays one until C needs it", function()
  local f = weft.future()
  T.eq(materialised(f), false)
  f:set_result(7)
  T.eq(f:done(), true)
  T.eq(f:state(), weft.FUTURE_RESULT)
  T.eq(f:code(), 0)
  T.eq(f:await(), 7)
  T.eq(f:result(), 7)
  T.eq(materialised(f), false)
  -- a SWIG method needs the C future: from then on it is an ordinary one
  T.eq(f:result_type(), weft.VALUE_INT64)
  T.eq(materialised(f), true)
  T.eq(f:await(), 7)
  T.eq(math.type(f:result()), "integer")
  -- every kind of result survives the change
  local g = weft.future()
  g:set_result(1, nil, "x")
  local p = weft.pointer(g)
  T.eq(type(p), "userdata")
  local r = table.pack(g:await())
  T.eq(r.n, 3); T.eq(r[1], 1); T.eq(r[2], nil); T.eq(r[3], "x")
  local c = weft.future()
  c:cancel("gone")
  T.eq(c:describe(), "<Future cancelled: gone>")
  T.eq(T.raises_code(weft.ECANCELED, c.await, c).message, "gone")
end)

T.test("a Lua task awaits it, then a C task too", function()
  local f = weft.future()
  local t = weft.spawn(function() return f:await() end)
  weft.yield()
  T.eq(t:awaiting(), f)
  -- C awaits the same future: it gets a C future while t waits on the fast path
  local d = weft.adopt(testc.describe(loop_ptr(), weft.pointer(f)), "task", true)
  T.eq(materialised(f), true)
  weft.yield()
  T.eq(t:done(), false)
  T.eq(d:done(), false)
  f:set_result(42)
  T.eq(t:await(), 42)
  T.eq(d:await(), "int64:42")
end)

T.test("C completes a future a Lua task awaits", function()
  local f = weft.future()
  local t = weft.spawn(function() return f:await() end)
  weft.yield()
  local c = weft.adopt(weft.pointer(f), "future") -- C's own wrapper
  T.eq(c:set_int64(-5), 0)
  T.eq(t:await(), -5)
  -- and a C cancel
  local g = weft.future()
  local u = weft.spawn(function() return g:await() end)
  weft.yield()
  T.eq(weft.adopt(weft.pointer(g), "future"):cancel("by C"), true)
  T.eq(T.raises_code(weft.ECANCELED, u.await, u).message, "by C")
  T.eq(u:cancelled(), true)
end)

T.test("two Lua tasks await one future", function()
  local f = weft.future()
  local box = {}
  local a = weft.spawn(function() return f:await() end)
  local b = weft.spawn(function() return f:await() end)
  weft.yield()
  f:set_result(box)
  T.eq(rawequal(a:await(), box), true)
  T.eq(rawequal(b:await(), box), true)
end)

T.test("cancel the task while it waits: the future is cancelled too", function()
  local f = weft.future()
  local seen
  local t = weft.spawn(function()
    local ok, e = pcall(f.await, f)
    seen = e
    error(e, 0)
  end)
  weft.yield()
  T.eq(t:cancel("stop"), true)
  T.eq(f:cancelled(), true) -- at once, as asyncio cancels the awaited future
  T.eq(f:exception().message, "stop")
  T.raises_code(weft.ESTATE, f.set_result, f, 1)
  T.eq(T.raises_code(weft.ECANCELED, t.await, t).message, "stop")
  T.eq(weft.is_cancelled(seen), true)
  T.eq(seen.message, "stop")
end)

T.test("cancel the future while a task waits on it", function()
  local f = weft.future()
  local t = weft.spawn(function() return f:await() end)
  weft.yield()
  T.eq(f:cancel("from f"), true)
  T.eq(f:cancel(), false)
  local e = T.raises_code(weft.ECANCELED, t.await, t)
  T.eq(e.message, "from f")
  T.eq(t:cancelled(), true)
end)

T.test("a task cancelled after its future got a result sees the cancellation", function()
  local f = weft.future()
  local t = weft.spawn(function() return f:await() end)
  weft.yield()
  f:set_result(1)
  t:cancel()           -- before t runs again: asyncio throws CancelledError in
  T.raises_code(weft.ECANCELED, t.await, t)
  T.eq(f:result(), 1)  -- the future keeps its result
end)

T.test("a task that swallows the cancellation waits again", function()
  local f, g = weft.future(), weft.future()
  local t = weft.spawn(function()
    local ok = pcall(f.await, f)
    assert(not ok)
    weft.current_task():uncancel()
    return g:await()
  end)
  weft.yield()
  t:cancel()
  weft.yield()
  T.eq(f:cancelled(), true)
  f = nil
  collect()
  g:set_result("again")
  T.eq(t:await(), "again")
end)

T.test("garbage collection while a task waits on a future only it holds", function()
  local weak = setmetatable({}, { __mode = "v" })
  local t = weft.spawn(function()
    local f = weft.future()
    weak[1] = f
    weft.call_later(0.1, function()
      collectgarbage()
      local g = weak[1]
      if g then g:set_result({ "late" }) end
    end)
    return f:await()
  end)
  weft.yield()
  collect()
  T.eq(weak[1] ~= nil, true) -- the waiting task keeps it
  T.eq(t:await()[1], "late")
  collect()
  T.eq(weak[1], nil)
end)

T.test("collecting on every iteration while tasks hand Lua futures around", function()
  local loop = weft.get_running_loop()
  loop:set_iteration_hook(function() collectgarbage() end)
  local n = 300
  local inbox = weft.future()
  local first = inbox
  local producer = weft.spawn(function()
    for i = 1, n do
      local nextbox = weft.future()
      inbox:set_result(i, nextbox, string.rep("y", i % 50))
      inbox = nextbox
      if i % 5 == 0 then weft.yield() end
    end
  end)
  local consumer = weft.spawn(function()
    local box, sum = first, 0
    for _ = 1, n do
      local i, nextbox = box:await()
      sum = sum + i
      box = nextbox
    end
    return sum
  end)
  T.eq(consumer:await(), n * (n + 1) // 2)
  producer:await()
  loop:set_iteration_hook(nil)
end)

T.test("a waiting task's coroutine closed from outside", function()
  local f = weft.future()
  local co
  local t = weft.spawn(function()
    co = coroutine.running()
    return f:await()
  end)
  weft.yield()
  T.eq(coroutine.close(co), true)
  co = nil
  collect()
  f:set_result(1) -- wakes a task whose coroutine is gone: it fails, nothing breaks
  local e = T.raises_code(weft.EUNHANDLED, t.await, t)
  T.contains(e.message, "dead coroutine")
  T.eq(f:result(), 1)
end)

T.test("Lua futures in combinators", function()
  local a, b = weft.future(), weft.future()
  local g = weft.gather(a, b)
  weft.call_soon(function() b:set_result("b"); a:set_result("a") end)
  local x, y = g:await()
  T.eq(x, "a"); T.eq(y, "b")
  local slow = weft.future()
  T.raises_code(weft.ETIMEDOUT, function() return weft.wait_for(slow, 0.5):await() end)
  T.eq(slow:cancelled(), true)
  local inner = weft.future()
  local s = weft.shield(inner)
  s:cancel()
  T.eq(inner:cancelled(), false)
  inner:set_result(3)
  T.eq(inner:await(), 3)
end)

T.test("an error set on a Lua future and never read reaches the handler", function()
  local reports = {}
  weft.set_exception_handler(function(ctx) reports[#reports + 1] = ctx end)
  do
    local f = weft.future()
    f:set_error(weft.EIO, "nobody reads me")
  end
  collect()
  weft.yield(); weft.yield()
  T.eq(#reports, 1)
  T.contains(reports[1].message, "never retrieved")
  weft.set_exception_handler(nil)
end)

T.plain("the loop closes while a task waits on a Lua future", function()
  local f, seen
  weft.run(function()
    f = weft.future()
    weft.spawn(function()
      local ok, e = pcall(f.await, f)
      seen = e
    end)
    weft.yield()
  end)
  T.eq(weft.is_cancelled(seen), true)
  T.eq(seen.message, "loop is closing")
  T.eq(f:cancelled(), true)
  T.raises_code(weft.ESTATE, f.set_result, f, 1)
  T.contains(tostring(f), "cancelled")
  T.eq(f:get_loop():is_closed(), 1)
  f, seen = nil, nil
  collect()
end)

T.plain("Lua futures outliving their loop", function()
  local done, pending
  weft.run(function()
    done = weft.future()
    done:set_result("kept", 2)
    pending = weft.future()
  end)
  local a, b = done:result()
  T.eq(a, "kept"); T.eq(b, 2)
  T.eq(pending:cancelled(), true) -- the close cancelled it
  T.eq(pending:exception().message, "loop is closing")
  T.contains(tostring(pending), "loop is closing")
  T.raises_code(weft.ESTATE, pending.set_result, pending, 1)
  T.raises_code(weft.ECLOSED, weft.pointer, pending) -- no C future for a closed loop
  T.raises_code(weft.ECLOSED, pending.add_done_callback, pending, print)
  T.raises(pending.result_type, pending) -- SWIG's own type error
  done, pending = nil, nil
  collect()
end)

T.plain("a Lua future of another loop", function()
  local A, B = weft.new_loop(weft.LOOP_VIRTUAL_TIME), weft.new_loop(weft.LOOP_VIRTUAL_TIME)
  local f
  local ta = rt.spawn(A, nil, function() f = weft.future() end)
  A:run_until(ta)
  local tb = rt.spawn(B, nil, function() return f:await() end)
  B:run_until(tb)
  T.raises_code(weft.EOTHERLOOP, tb.result, tb)
  T.eq(f:done(), false)
  T.eq(A:close(), 0)
  T.eq(B:close(), 0)
  T.eq(f:cancelled(), true)
  f, ta, tb = nil, nil, nil
  collect()
end)

T.plain("a second Lua state with a weft of its own", function()
  -- the module reads its state from a static while one Lua state only has
  -- loaded it, from its functions' upvalue after that: both must hold
  local r = testc.other_state([[
    local weft = require "weft"
    return weft.run(function()
      local g = weft.future()
      weft.spawn(function() weft.yield(); g:set_result("other") end)
      return g:await()
    end)
  ]])
  T.eq(r, "other")
  T.eq(weft.run(function()
    local f = weft.future()
    local t = weft.spawn(function() return f:await() end)
    weft.yield()
    f:set_result("first")
    return t:await()
  end), "first")
end)

T.test("after a second state: futures and tasks as before", function()
  local f = weft.future()
  local t = weft.spawn(function() return f:await() end)
  weft.yield()
  T.eq(t:cancel("late"), true)
  T.eq(T.raises_code(weft.ECANCELED, t.await, t).message, "late")
  T.eq(f:exception().message, "late")
end)

T.run()
