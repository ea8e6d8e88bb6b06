-- 01_five_sleeps.lua: five tasks that each sleep 1 s finish after 1 s, not 5.
--
-- Seed 002 ("python_async"): the synchronous loop of time.sleep(1) takes 5 s,
-- the asynchronous one about 1 s:
--
--   async def hello():
--       print('Hello World:%s' % time.time())
--       await asyncio.sleep(1)
--       print('Hello wow World:%s' % time.time())
--   tasks = [hello() for i in range(5)]
--   loop.run_until_complete(asyncio.wait(tasks))
--
-- The loop runs on virtual time (the clock jumps to the next timer when every
-- task waits), so this runs at once and prints the same times every run; set
-- WEFT_REAL_TIME=1 to wait for real.
--
--   LUA_PATH="build/release/lua/?.lua;build/release/lua/?/init.lua;;" \
--   LUA_CPATH="build/release/lua/?.so;;" lua5.4 examples/lua/01_five_sleeps.lua
local weft = require "weft"

local virtual = os.getenv("WEFT_REAL_TIME") == nil

local elapsed = weft.run({ virtual_time = virtual }, function()
  local t0 = weft.time()
  local function hello(i)
    print(string.format("Hello World %d at %.1f s", i, weft.time() - t0))
    weft.sleep(1)
    print(string.format("Hello wow World %d at %.1f s", i, weft.time() - t0))
  end
  local tasks = {}
  for i = 1, 5 do tasks[i] = weft.spawn(hello, i) end
  for _, t in ipairs(tasks) do t:await() end
  return weft.time() - t0
end)

print(string.format("five sleeps of 1 s took %.1f s", elapsed))
if virtual then assert(elapsed == 1.0, "the five sleeps overlap") end
