-- 02_cancel.lua: cancelling a long task.  The task sees the cancellation at
-- its await (and can clean up); whoever awaits it gets a cancelled error.
--
-- Seed 004 ("取消任务", cancelling a task):
--
--   async def delay(delay_seconds):
--       print(f"等待{delay_seconds}秒")
--       await asyncio.sleep(delay_seconds)
--       print(f"完成等待{delay_seconds}秒")
--       return delay_seconds
--
--   async def main():
--       long_task = asyncio.create_task(delay(10))
--       second_elapsed = 0
--       while not long_task.done():
--           print("任务未完成")
--           await asyncio.sleep(1)
--           second_elapsed = second_elapsed + 1
--           if second_elapsed == 5:
--               long_task.cancel()
--       try:
--           await long_task
--       except CancelledError:
--           print("任务取消")
--
-- "except CancelledError" is a pcall whose error satisfies weft.is_cancelled.
-- Virtual time (WEFT_REAL_TIME=1 for real time).
local weft = require "weft"

local cleaned_up = false

weft.run({ virtual_time = os.getenv("WEFT_REAL_TIME") == nil }, function()
  local function delay(seconds)
    print(string.format("waiting %d s", seconds))
    local ok, err = pcall(weft.sleep, seconds)
    if not ok then
      print("delay: cancelled while sleeping, cleaning up")
      cleaned_up = true
      error(err, 0) -- let the cancellation go on
    end
    print(string.format("done waiting %d s", seconds))
    return seconds
  end

  local long_task = weft.spawn(delay, 10)
  local elapsed = 0
  while not long_task:done() do
    print("task not done yet")
    weft.sleep(1)
    elapsed = elapsed + 1
    if elapsed == 5 then long_task:cancel("five seconds are enough") end
  end
  local ok, err = pcall(long_task.await, long_task)
  assert(not ok and weft.is_cancelled(err))
  print("task cancelled: " .. err.message)
end)

assert(cleaned_up)
