-- Cross-language awaits with a small C module (tests/testc.c): Lua awaits C
-- futures and C tasks; C tasks await Lua tasks and futures.
local T = require "harness"
local weft = require "weft"
local testc = require "weft_testc"

local function loop_ptr() return weft.pointer(weft.get_running_loop()) end

T.test("a Lua task awaits a future made and completed in C", function()
  local f = weft.adopt(testc.later(loop_ptr(), 0.1, math.maxinteger), "future", true)
  T.eq(f:await(), math.maxinteger)
  T.eq(math.type(f:result()), "integer")
  local g = weft.adopt(testc.fail_later(loop_ptr(), 0.1, weft.ECONNRESET, "reset in C"), "future", true)
  local e = T.raises_code(weft.ECONNRESET, g.await, g)
  T.eq(e.message, "reset in C")
end)

T.test("a Lua task awaits a task made in C", function()
  local t = weft.adopt(testc.sleeper(loop_ptr(), 0.5), "task", true)
  T.eq(t:name(), "c-sleeper")
  T.eq(t:await(), 7)
  -- and cancels one
  local u = weft.adopt(testc.sleeper(loop_ptr(), 10), "task", true)
  weft.yield()
  u:cancel()
  T.raises_code(weft.ECANCELED, u.await, u)
  -- a C future in a gather / wait_for with Lua tasks
  local c = weft.adopt(testc.later(loop_ptr(), 0.2, 5), "future", true)
  local a, b = weft.gather(c, function() weft.sleep(0.1); return "lua" end):await()
  T.eq(a, 5); T.eq(b, "lua")
end)


local function cfuture_of(task) return testc.task_future(weft.pointer(task)) end

T.test("a C task awaits Lua tasks: every kind of outcome", function()
  local function lua_task(fn) return weft.spawn(function() weft.sleep(0.1); return fn() end) end
  local function via_c(task)
    local p = testc.describe(loop_ptr(), cfuture_of(task))
    return weft.adopt(p, "task", true):await()
  end
  T.eq(via_c(lua_task(function() return 42 end)), "int64:42")
  T.eq(via_c(lua_task(function() return -1.5 end)), "double:-1.5")
  T.eq(via_c(lua_task(function() return "text" end)), "bytes:text")
  T.eq(via_c(lua_task(function() end)), "none")
  T.eq(via_c(lua_task(function() return { 1 } end)), "ptr")
  T.eq(via_c(lua_task(function() error(weft.error(weft.EPIPE, "pipe")) end)), "error:EPIPE:pipe")
  local r = via_c(lua_task(function() error("lua error") end))
  T.contains(r, "error:EUNHANDLED:")
  T.contains(r, "lua error")
  local c = weft.spawn(weft.sleep, 10)
  local d = weft.adopt(testc.describe(loop_ptr(), cfuture_of(c)), "task", true)
  weft.yield()
  c:cancel("from Lua")
  T.eq(d:await(), "cancelled:from Lua")
end)

T.test("a C task awaits a Lua future", function()
  local f = weft.future()
  local d = weft.adopt(testc.describe(loop_ptr(), weft.pointer(f)), "task", true)
  weft.yield()
  T.eq(d:done(), false)
  f:set_result("from lua")
  T.eq(d:await(), "bytes:from lua")
end)

T.test("pointer and adopt: a new reference or a stolen one", function()
  local f = weft.future()
  local p = weft.pointer(f)
  T.eq(type(p), "userdata")
  local g = weft.adopt(p, "future") -- a second wrapper, its own reference
  T.eq(g == f, true)
  g = nil
  collectgarbage()
  f:set_result(1)
  T.eq(f:await(), 1)
  local loop = weft.adopt(weft.pointer(weft.get_running_loop()), "loop")
  T.eq(loop:is_running(), 1)
  T.raises(weft.pointer, {})
  T.raises(weft.adopt, p, "nonsense")
end)

T.run()
