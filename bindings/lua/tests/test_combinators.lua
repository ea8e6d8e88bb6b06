-- gather, wait_for, shield, sleep_future.
local T = require "harness"
local weft = require "weft"

local function after(d, ...)
  local vals = table.pack(...)
  return weft.spawn(function() weft.sleep(d); return table.unpack(vals, 1, vals.n) end)
end

local function failing(d, code, msg)
  return weft.spawn(function() weft.sleep(d); error(weft.error(code, msg)) end)
end

T.test("gather: results in argument order, whatever the finish order", function()
  local g = weft.gather(after(0.3, "a"), after(0.1, 2), after(0.2, { 3 }))
  local a, b, c = g:await()
  T.eq(a, "a"); T.eq(b, 2); T.eq(c[1], 3)
  -- functions are spawned; a multi-value child gives its first value
  local x, y = weft.gather(function() return "f", "ignored" end, after(0, nil)):await()
  T.eq(x, "f"); T.eq(y, nil)
  -- an empty gather is done at once
  local e = weft.gather()
  T.eq(e:done(), true)
  T.eq(select("#", e:await()), 0)
  T.eq(weft.core.gather_count(g), 3)
  T.eq(weft.core.gather_child(g, 1):result(), 2)
end)

T.test("gather: the first failure fails it; siblings keep running", function()
  local slow = after(0.5, "slow")
  local g = weft.gather(slow, failing(0.1, weft.EPIPE, "first"), failing(0.2, weft.EIO, "second"))
  local e = T.raises_code(weft.EPIPE, g.await, g)
  T.eq(e.message, "first")
  T.eq(slow:done(), false)
  T.eq(slow:await(), "slow")
end)

T.test("gather with return_exceptions: errors in place", function()
  local c = after(10, "never")
  c:cancel()
  local g = weft.gather(after(0.1, 1), failing(0.1, weft.EIO, "io"), c, { return_exceptions = true })
  local a, b, d = g:await()
  T.eq(a, 1)
  T.eq(b.code, weft.EIO); T.eq(b.message, "io")
  T.eq(weft.is_cancelled(d), true)
end)

T.test("cancelling a gather cancels its children", function()
  local a, b = after(10, 1), after(10, 2)
  local g = weft.gather(a, b)
  weft.yield()
  T.eq(g:cancel("enough"), true)
  T.raises_code(weft.ECANCELED, g.await, g)
  T.raises_code(weft.ECANCELED, a.await, a)
  T.raises_code(weft.ECANCELED, b.await, b)
end)

T.test("gather rejects what is not awaitable", function()
  T.raises(weft.gather, 42)
  T.raises(weft.gather, after(0, 1), "x")
  T.raises(weft.core.gather, weft.get_running_loop(), { 1, 2 }, 0)
end)

T.test("wait_for: in time, timed out, infinite, zero", function()
  T.eq(weft.wait_for(after(1, "ok"), 5):await(), "ok")
  local inner = after(10, "late")
  local e = T.raises_code(weft.ETIMEDOUT, function() return weft.wait_for(inner, 1):await() end)
  T.eq(weft.is_timeout(e), true)
  T.eq(inner:cancelled(), true) -- the inner was cancelled
  T.eq(weft.wait_for(after(100, "no limit")):await(), "no limit")
  T.raises_code(weft.ETIMEDOUT, function() return weft.wait_for(after(1, 1), 0):await() end)
  -- a table result passes through (the pointer is shared, the values held once)
  local t = weft.wait_for(after(0.1, { k = "v" }), 1):await()
  T.eq(t.k, "v")
  -- an error of the inner passes through
  T.raises_code(weft.EIO, function() return weft.wait_for(failing(0.1, weft.EIO, "x"), 1):await() end)
  -- a function is spawned
  T.eq(weft.wait_for(function() return 5 end, 1):await(), 5)
end)

T.test("cancelling a wait_for cancels the inner", function()
  local inner = after(10, 1)
  local w = weft.wait_for(inner, 100)
  weft.yield()
  w:cancel()
  T.raises_code(weft.ECANCELED, w.await, w)
  T.raises_code(weft.ECANCELED, inner.await, inner)
end)

T.test("shield: cancelling the outer leaves the inner running", function()
  local inner = after(1, "kept")
  local outer = weft.shield(inner)
  weft.yield()
  outer:cancel()
  T.raises_code(weft.ECANCELED, outer.await, outer)
  T.eq(inner:await(), "kept")
  -- mirrors an outcome
  T.eq(weft.shield(after(0.1, 9)):await(), 9)
  -- a done inner: the shield is the inner itself
  local done = weft.future(); done:set_result(1)
  T.eq(weft.shield(done) == done, true)
end)

T.test("a task waiting on a shielded task is cancelled alone", function()
  local inner = after(1, "inner")
  local waiter = weft.spawn(function() return weft.shield(inner):await() end)
  weft.yield()
  waiter:cancel()
  T.raises_code(weft.ECANCELED, waiter.await, waiter)
  T.eq(inner:await(), "inner")
end)

T.test("wait: return_when, timeout, sets of the objects given", function()
  local a, b, f = after(1, "a"), after(3, "b"), weft.future()
  local done, pending = weft.wait({ a, b, f }, { return_when = "FIRST_COMPLETED" })
  T.eq(#done, 1); T.eq(done[1] == a, true)
  T.eq(#pending, 2); T.eq(pending[1] == b, true); T.eq(pending[2] == f, true)
  done, pending = weft.wait({ b, f }, { timeout = 5 })
  T.eq(#done, 1); T.eq(done[1] == b, true); T.eq(pending[1] == f, true)
  T.eq(f:done(), false) -- nothing is cancelled
  local bad = failing(1, weft.EIO, "x")
  done, pending = weft.wait({ bad, f }, { return_when = "FIRST_EXCEPTION" })
  T.eq(done[1] == bad, true); T.eq(#pending, 1)
  done = weft.wait({ function() return 1 end }) -- a function is spawned
  T.eq(done[1]:result(), 1)
  T.raises_code(weft.EINVAL, weft.wait, {})
  f:cancel()
end)

T.test("as_completed: in finishing order, with a timeout", function()
  local f = weft.future()
  local order = {}
  for nxt in weft.as_completed({ after(2, "two"), after(1, "one"), f }, 10) do
    local ok, v = pcall(nxt.await, nxt)
    if ok then
      order[#order + 1] = v
      T.eq(weft.completed_source(nxt):result(), v)
    else
      order[#order + 1] = v.name
      T.raises_code(weft.ESTATE, weft.completed_source, nxt)
    end
  end
  T.eq(table.concat(order, " "), "one two ETIMEDOUT")
  f:cancel()
  local n = 0
  for _ in weft.as_completed({}) do n = n + 1 end
  T.eq(n, 0)
end)

T.test("sleep_future", function()
  local t0 = weft.time()
  local f = weft.sleep_future(2)
  T.eq(select("#", f:await()), 0)
  T.eq(weft.time() - t0 >= 2, true)
  local g = weft.gather(weft.sleep_future(1), weft.sleep_future(3))
  g:await()
  T.eq(weft.time() - t0 >= 5, true)
  local s = weft.sleep_future(10)
  s:cancel()
  T.eq(s:cancelled(), true)
end)

T.run()
