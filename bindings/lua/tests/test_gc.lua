-- Garbage collection: wrappers, held values and registrations against the
-- loop's lifetimes.  The harness checks after every test that the binding
-- holds no C structure any more; this script also ends with a loop left
-- open, for lua_close to finalize (valgrind checks that path).
local T = require "harness"
local weft = require "weft"
local rt = weft.core.rt

local function collect() collectgarbage(); collectgarbage() end

T.test("a dropped pending future is cancelled; its callbacks still run", function()
  local seen
  do
    local f = weft.future()
    f:add_done_callback(function(x) seen = x:cancelled() end)
  end
  collect()
  weft.yield(); weft.yield()
  T.eq(seen, true)
end)

T.test("values held by a future live as long as the future", function()
  local weak = setmetatable({}, { __mode = "v" })
  local f = weft.future()
  do
    local value = { "payload" }
    weak[1] = value
    f:set_result(value)
  end
  collect(); rt.drain()
  T.eq(weak[1] ~= nil, true)
  T.eq(f:result()[1], "payload")
  f = nil
  collect()
  weft.yield()  -- the future's release comes from the loop
  rt.drain()
  collect()
  T.eq(weak[1], nil)
end)

T.test("garbage collection on every iteration while tasks hand values around", function()
  local loop = weft.get_running_loop()
  loop:set_iteration_hook(function() collectgarbage() end)
  local n = 200
  local box = weft.future()
  local first = box
  local producer = weft.spawn(function()
    for i = 1, n do
      local nextbox = weft.future()
      box:set_result({ i = i, nextbox = nextbox, junk = string.rep("x", 100) })
      box = nextbox
      if i % 7 == 0 then weft.yield() end
    end
  end)
  local consumer = weft.spawn(function()
    local b, sum = first, 0
    for _ = 1, n do
      local msg = b:await()
      sum = sum + msg.i
      b = msg.nextbox
      collectgarbage("step")
    end
    return sum
  end)
  T.eq(consumer:await(), n * (n + 1) // 2)
  producer:await()
  loop:set_iteration_hook(nil)
end)

T.test("tasks and futures nobody references finish and are freed", function()
  local count = 0
  for _ = 1, 100 do
    weft.spawn(function()
      local f = weft.future()
      weft.call_soon(function() f:set_result({}) end)
      f:await()
      collectgarbage("step")
      count = count + 1
    end)
  end
  collect()
  weft.sleep(0.01)
  T.eq(count, 100)
end)

T.test("a callback keeps its function until it runs", function()
  local ran = false
  do
    local token = {}
    weft.call_later(1, function() ran = token ~= nil end)
  end
  collect()
  weft.sleep(2)
  T.eq(ran, true)
end)

T.plain("a loop dropped without close: its finalizer runs no Lua code", function()
  local base = rt.stats()
  local cleanup_ran, callback_ran = false, false
  do
    local loop = weft.new_loop()
    rt.spawn(loop, nil, function()
      local ok = pcall(weft.sleep, 10)
      cleanup_ran = true
      return ok
    end)
    loop:call_later(5, function() callback_ran = true end)
    loop:set_exception_handler(function() callback_ran = true end)
    loop:run(weft.RUN_NOWAIT) -- the task starts and sleeps
    T.eq(rt.stats() > base, true)
  end
  collect()
  rt.drain()
  T.eq(cleanup_ran, false)
  T.eq(callback_ran, false)
  T.eq(rt.stats(), base)
end)

T.plain("futures outliving their loop stay usable", function()
  local f, g, t
  weft.run(function()
    f = weft.future()
    f:set_result({ "kept" })
    g = weft.future()
    t = weft.spawn(function() return "done" end)
    t:await()
  end)
  T.eq(f:result()[1], "kept")
  T.eq(g:cancelled(), true) -- close cancelled it
  T.eq(t:result(), "done")
  T.eq(g:get_loop():is_closed(), 1)
  f, g, t = nil, nil, nil
  collect()
end)

T.run()

-- Left for lua_close: a loop with a sleeping task, a pending future holding a
-- value, a timer and a hook.  Its finalizer must close it without calling
-- Lua, and every C structure must be freed (valgrind).
local loop = weft.new_loop()
local pending = weft.future(loop)
rt.spawn(loop, nil, function() pending:await() end)
rt.spawn(loop, nil, function() weft.sleep(100) end)
loop:call_later(100, function() print("never") end)
loop:set_iteration_hook(function() end)
local held = weft.future(loop)
held:set_result({ "held until the end" })
loop:run(weft.RUN_NOWAIT)
