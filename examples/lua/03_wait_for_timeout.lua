-- 03_wait_for_timeout.lua: wait_for gives up after a timeout and cancels the
-- task; shield keeps the task running so it can still be awaited.
--
-- Seed 004 ("使用wait_for设置超时任务取消", "使用asyncio.shield保护任务免于取消"):
--
--   delay_task = asyncio.create_task(delay(2))
--   try:
--       result = await asyncio.wait_for(delay_task, timeout=1)
--   except asyncio.exceptions.TimeoutError:
--       print("任务超时")
--
--   delay_task = asyncio.create_task(delay(2))
--   try:
--       result = await asyncio.wait_for(asyncio.shield(delay_task), timeout=1)
--   except asyncio.exceptions.TimeoutError:
--       print("任务超时")
--       result = await delay_task
--       print(result)
--
-- "except TimeoutError" is a pcall whose error satisfies weft.is_timeout.
-- Virtual time (WEFT_REAL_TIME=1 for real time).
local weft = require "weft"

weft.run({ virtual_time = os.getenv("WEFT_REAL_TIME") == nil }, function()
  local function delay(seconds)
    print(string.format("waiting %d s", seconds))
    weft.sleep(seconds)
    print(string.format("done waiting %d s", seconds))
    return seconds
  end

  -- wait_for: the task is cancelled at the timeout
  local task = weft.spawn(delay, 2)
  local ok, err = pcall(function() return weft.wait_for(task, 1):await() end)
  assert(not ok and weft.is_timeout(err))
  print("timed out: " .. tostring(err))
  assert(task:cancelled())

  -- shield: the timeout cancels the shield, not the task
  task = weft.spawn(delay, 2)
  ok, err = pcall(function() return weft.wait_for(weft.shield(task), 1):await() end)
  assert(not ok and weft.is_timeout(err))
  print("timed out, but the task goes on")
  local result = task:await()
  print("result: " .. result)
  assert(result == 2)

  -- the same with a timeout scope around part of the task
  ok, err = pcall(weft.timeout, 1, function() return delay(2) end)
  assert(not ok and weft.is_timeout(err))
  print("the timeout scope expired")
end)
