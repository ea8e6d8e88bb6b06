-- Task groups (asyncio.TaskGroup) and signals.
local T = require "harness"
local weft = require "weft"
local testc = require "weft_testc"

T.test("a task group waits for its children", function()
  local log = {}
  local a, b
  local r = weft.taskgroup(function(tg, x)
    a = tg:spawn(function() weft.sleep(2); log[#log + 1] = "a"; return 1 end)
    b = tg:spawn_named("b", function() weft.sleep(1); log[#log + 1] = "b"; return 2 end)
    T.eq(tg:size(), 2)
    T.eq(tg:state(), weft.TASKGROUP_ACTIVE)
    T.contains(tostring(tg), "TaskGroup")
    return x
  end, "body")
  T.eq(r, "body")
  T.eq(table.concat(log), "ba")
  T.eq(a:result(), 1); T.eq(b:result(), 2)
  T.eq(b:name(), "b")
end)

T.test("the first failing child cancels the rest and the body: EGROUP", function()
  local sibling, body_cancelled
  local e = T.raises_code(weft.EGROUP, weft.taskgroup, function(tg)
    sibling = tg:spawn(weft.sleep, 10)
    tg:spawn(function() weft.sleep(1); error(weft.error(weft.EIO, "disk")) end)
    tg:spawn(function() weft.sleep(1); error("plain lua error") end)
    local ok, err = pcall(weft.sleep, 100)
    body_cancelled = not ok and weft.is_cancelled(err)
    error(err, 0)
  end)
  T.eq(body_cancelled, true)
  T.eq(sibling:cancelled(), true)
  T.eq(#e.errors, 2)
  T.eq(e.errors[1].code, weft.EIO)
  T.eq(e.errors[1].message, "disk")
  T.eq(e.errors[1].task:done(), true)
  T.eq(e.errors[2].code, weft.EUNHANDLED)
  T.contains(e.errors[2].message, "plain lua error")
  T.contains(e.message, "2 sub-exceptions")
  -- spawning into a finished group is refused
  T.raises_code(weft.ESTATE, e.group.spawn, e.group, function() end)
  T.eq(e.group:state(), weft.TASKGROUP_DONE)
end)

T.test("the body's own error ends the group and is listed last", function()
  local child
  local e = T.raises_code(weft.EGROUP, weft.taskgroup, function(tg)
    child = tg:spawn(weft.sleep, 10)
    weft.sleep(1)
    error("body broke")
  end)
  T.eq(child:cancelled(), true)
  T.eq(#e.errors, 1)
  T.contains(e.errors[1].message, "body broke")
  T.contains(e.errors[1].error, "body broke")
  T.eq(e.errors[1].task, nil)
end)

T.test("group:cancel ends the group quietly; an outside cancel is a cancel", function()
  local child
  local r = table.pack(weft.taskgroup(function(tg)
    child = tg:spawn(weft.sleep, 10)
    tg:cancel()
    T.eq(tg:aborting(), true)
    weft.sleep(5)
  end))
  T.eq(r.n, 0)
  T.eq(child:cancelled(), true)
  local inner
  local parent = weft.spawn(function()
    return weft.taskgroup(function(tg)
      inner = tg:spawn(weft.sleep, 10)
      weft.sleep(10)
    end)
  end)
  weft.sleep(1)
  parent:cancel()
  T.raises_code(weft.ECANCELED, parent.await, parent)
  T.eq(inner:cancelled(), true)
end)

T.test("children may spawn siblings while the exit waits", function()
  local n = 0
  weft.taskgroup(function(tg)
    tg:spawn(function()
      weft.sleep(1)
      tg:spawn(function() weft.sleep(1); n = n + 1 end)
      n = n + 1
    end)
  end)
  T.eq(n, 2)
end)

T.plain("taskgroup needs a task", function()
  T.raises(weft.taskgroup, function() end)
end)

T.realtime("signals: wait for one, handle them", function()
  local f = weft.signal_wait(weft.SIGUSR1)
  weft.call_soon(testc.raise, weft.SIGUSR1)
  T.eq(f:await(), weft.SIGUSR1)
  local seen = {}
  weft.add_signal_handler(weft.SIGUSR2, function(s, tag) seen[#seen + 1] = tag .. s end, "got")
  local keep = weft.sleep_future(10) -- the handler does not keep the loop running
  testc.raise(weft.SIGUSR2)
  T.wait_until(function() return #seen > 0 end, "the SIGUSR2 handler ran")
  T.eq(seen[1], "got" .. weft.SIGUSR2)
  T.eq(weft.remove_signal_handler(weft.SIGUSR2), true)
  T.eq(weft.remove_signal_handler(weft.SIGUSR2), false)
  keep:cancel()
  T.raises_code(weft.EINVAL, weft.signal_wait, 9) -- SIGKILL cannot be caught
  -- a pending wait is cancelled with its loop
  local g = weft.signal_wait(weft.SIGUSR1)
  g:cancel()
  T.eq(g:cancelled(), true)
end)

T.run()
