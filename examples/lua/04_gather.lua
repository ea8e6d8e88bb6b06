-- 04_gather.lua: gather runs awaitables concurrently and gives their results
-- in argument order, whatever order they finish in.
--
-- Seeds 000, 001 and 003 ("asyncio.gather 用来并发运行任务 ... 可以按照传入参数的顺序，顺序输出"):
--
--   async def delay(seconds):
--       print(f"waiting {seconds} s")
--       await asyncio.sleep(seconds)
--       print(f"done waiting {seconds} s")
--       return seconds
--
--   async def main():
--       results = await asyncio.gather(delay(3), delay(1), delay(2))
--       print(results)                       # [3, 1, 2], after 3 s, not 6
--
-- Virtual time (WEFT_REAL_TIME=1 for real time).
local weft = require "weft"

weft.run({ virtual_time = os.getenv("WEFT_REAL_TIME") == nil }, function()
  local function delay(seconds)
    print(string.format("waiting %d s", seconds))
    weft.sleep(seconds)
    print(string.format("done waiting %d s", seconds))
    return seconds
  end
  local t0 = weft.time()
  local a, b, c = weft.gather(weft.spawn(delay, 3), weft.spawn(delay, 1), weft.spawn(delay, 2)):await()
  print(string.format("results: %d %d %d after %.0f s", a, b, c, weft.time() - t0))
  assert(a == 3 and b == 1 and c == 2)

  -- a failure: the first error comes out of the gather; with
  -- return_exceptions it is returned in its place instead
  local function fail() weft.sleep(1); error(weft.error(weft.EIO, "disk on fire")) end
  local ok, err = pcall(function() return weft.gather(fail, function() return "ok" end):await() end)
  print("gather failed: " .. tostring(err))
  assert(not ok and err.code == weft.EIO)
  local x, y = weft.gather(fail, function() return "ok" end, { return_exceptions = true }):await()
  print("with return_exceptions: " .. tostring(x) .. ", " .. y)
end)
