-- Event, Lock, Semaphore, Condition, Barrier and queues of Lua values.
local T = require "harness"
local weft = require "weft"

T.test("event", function()
  local ev = weft.event()
  T.eq(ev:is_set(), false)
  local woken = 0
  for _ = 1, 3 do weft.spawn(function() ev:wait():await(); woken = woken + 1 end) end
  weft.sleep(1)
  T.eq(woken, 0)
  ev:set()
  weft.sleep(1)
  T.eq(woken, 3)
  T.eq(ev:is_set(), true)
  T.eq(ev:wait():done(), true) -- set: a wait is done at once
  ev:clear()
  T.eq(ev:is_set(), false)
  T.contains(tostring(ev), "Event")
  local w = ev:wait()
  w:cancel()
  T.eq(w:cancelled(), true)
end)

T.test("lock: FIFO, with, release errors", function()
  local lock = weft.lock()
  local order = {}
  local function worker(name)
    lock:with(function() order[#order + 1] = name .. "+"; weft.sleep(1); order[#order + 1] = name .. "-" end)
  end
  local a, b = weft.spawn(worker, "a"), weft.spawn(worker, "b")
  a:await(); b:await()
  T.eq(table.concat(order, " "), "a+ a- b+ b-")
  T.eq(lock:locked(), false)
  T.raises_code(weft.ESTATE, lock.release, lock)
  -- with releases when fn raises
  T.raises(lock.with, lock, function() error("inside") end)
  T.eq(lock:locked(), false)
  -- a cancelled waiter does not take the lock
  lock:acquire():await()
  local waiter = weft.spawn(function() lock:acquire():await() end)
  weft.sleep(1)
  waiter:cancel()
  T.raises_code(weft.ECANCELED, waiter.await, waiter)
  lock:release()
  T.eq(lock:locked(), false)
  T.contains(tostring(lock), "unlocked")
end)

T.test("semaphore, bounded", function()
  local sem = weft.semaphore(2)
  local inside, most = 0, 0
  local ts = {}
  for i = 1, 5 do
    ts[i] = weft.spawn(function()
      sem:with(function()
        inside = inside + 1
        most = math.max(most, inside)
        weft.sleep(1)
        inside = inside - 1
      end)
    end)
  end
  for _, t in ipairs(ts) do t:await() end
  T.eq(most, 2)
  T.eq(sem:value(), 2)
  T.eq(sem:locked(), false)
  sem:release() -- unbounded: may go above its start
  T.eq(sem:value(), 3)
  local b = weft.semaphore(1, true)
  T.raises_code(weft.EOVERFLOW, b.release, b)
  b:acquire():await()
  T.eq(b:locked(), true)
  T.raises(weft.semaphore, -1)
end)

T.test("condition: wait, notify, wait_for", function()
  local cond = weft.condition()
  local items = {}
  local consumer = weft.spawn(function()
    return cond:with(function()
      cond:wait_for(function() return #items >= 2 end):await()
      return table.concat(items, ",")
    end)
  end)
  local waiter = weft.spawn(function()
    cond:with(function() cond:wait():await() end)
    return "notified"
  end)
  weft.sleep(1)
  cond:with(function() items[#items + 1] = "x"; T.eq(cond:notify(1) >= 0, true) end)
  weft.sleep(1)
  cond:with(function() items[#items + 1] = "y"; cond:notify_all() end)
  T.eq(consumer:await(), "x,y")
  T.eq(waiter:await(), "notified")
  T.raises_code(weft.ESTATE, cond.notify, cond) -- the lock is not held
  T.raises_code(weft.ESTATE, cond.wait, cond)
  -- a shared lock
  local lock = weft.lock()
  local c2 = weft.condition(lock)
  T.eq(c2:lock() == lock, true)
  c2:acquire():await()
  T.eq(lock:locked(), true)
  c2:release()
  T.contains(tostring(c2), "Condition")
  -- a predicate that raises ends the wait and is reported
  local reported = 0
  weft.set_exception_handler(function() reported = reported + 1 end)
  cond:with(function() cond:wait_for(function() error("bad predicate") end):await() end)
  weft.yield()
  T.eq(reported, 1)
  weft.set_exception_handler(nil)
end)

T.test("barrier", function()
  local b = weft.barrier(3)
  T.eq(b:parties(), 3)
  local idx = {}
  local ts = {}
  for i = 1, 3 do ts[i] = weft.spawn(function() idx[i] = b:wait():await() end) end
  for _, t in ipairs(ts) do t:await() end
  table.sort(idx)
  T.eq(table.concat(idx, ","), "0,1,2")
  local w = weft.spawn(function() return b:wait():await() end)
  weft.sleep(1)
  T.eq(b:n_waiting(), 1)
  b:abort()
  T.raises_code(weft.EBROKENBARRIER, w.await, w)
  T.eq(b:broken(), true)
  T.eq(b:state(), weft.BARRIER_BROKEN)
  b:reset()
  T.eq(b:broken(), false)
  T.contains(tostring(b), "Barrier")
end)

T.test("queues carry any Lua values; producer and consumer", function()
  local q = weft.queue(2)
  T.eq(q:maxsize(), 2)
  local produced = { 1, "two", { 3 }, 4.5, true }
  local producer = weft.spawn(function()
    for _, v in ipairs(produced) do q:put(v):await() end
    q:join():await()
    return "all done"
  end)
  local got = {}
  for _ = 1, #produced do
    got[#got + 1] = q:get():await()
    q:task_done()
  end
  T.eq(producer:await(), "all done")
  T.eq(got[1], 1); T.eq(got[2], "two"); T.eq(got[3][1], 3); T.eq(got[4], 4.5); T.eq(got[5], true)
  T.eq(q:empty(), true)
  T.raises_code(weft.ESTATE, q.task_done, q)
  -- nowait forms
  q:put_nowait("a"); q:put_nowait("b")
  T.eq(q:full(), true)
  T.raises_code(weft.EQUEUEFULL, q.put_nowait, q, "c")
  T.eq(q:qsize(), 2)
  T.eq(q:get_nowait(), "a")
  T.eq(q:get_nowait(), "b")
  T.raises_code(weft.EQUEUEEMPTY, q.get_nowait, q)
  -- shutdown: gets fail once empty, puts fail at once
  q:put_nowait({ "left" })
  q:shutdown()
  T.raises_code(weft.EQUEUESHUTDOWN, q.put_nowait, q, 1)
  T.eq(q:get():await()[1], "left")
  T.raises_code(weft.EQUEUESHUTDOWN, function() return q:get():await() end)
  T.contains(tostring(q), "shutdown")
end)

T.test("LIFO and priority queues; cancelled puts and gets lose nothing", function()
  local l = weft.lifo_queue()
  for i = 1, 3 do l:put_nowait(i) end
  T.eq(l:get_nowait(), 3)
  local p = weft.priority_queue()
  p:put_nowait("low", 5); p:put("high", 1):await(); p:put_nowait("mid", 3)
  T.eq(p:get_nowait(), "high"); T.eq(p:get_nowait(), "mid"); T.eq(p:get_nowait(), "low")
  -- a waiting get, cancelled, then the value goes to the next getter
  local q = weft.queue(1)
  local g = q:get()
  g:cancel()
  q:put_nowait({ "kept" })
  T.eq(q:get():await()[1], "kept")
  -- a waiting put, cancelled: its value never enters
  q:put_nowait("full")
  local put = q:put({ "dropped" })
  put:cancel()
  T.eq(q:get_nowait(), "full")
  T.raises_code(weft.EQUEUEEMPTY, q.get_nowait, q)
  -- values left in a dropped queue are released
  local weak = setmetatable({}, { __mode = "v" })
  do
    local r = weft.queue()
    local v = {}
    weak[1] = v
    r:put_nowait(v)
  end
  collectgarbage(); collectgarbage()
  weft.yield()
  weft.core.rt.drain()
  collectgarbage()
  T.eq(weak[1], nil)
end)

T.run()
