-- 05_producer_consumer.lua: producers and consumers share a bounded queue;
-- join waits until every item has been processed.
--
-- The producer/consumer lesson of the asyncio tutorials (asyncio.Queue):
--
--   async def producer(queue, name, n):
--       for i in range(n):
--           await queue.put(f"{name}-{i}")       # waits while the queue is full
--   async def consumer(queue, name):
--       while True:
--           item = await queue.get()
--           await asyncio.sleep(0.1)             # "process" it
--           queue.task_done()
--   async def main():
--       queue = asyncio.Queue(maxsize=3)
--       consumers = [asyncio.create_task(consumer(queue, c)) for c in "AB"]
--       await asyncio.gather(producer(queue, "p1", 5), producer(queue, "p2", 5))
--       await queue.join()                       # every item processed
--       for c in consumers: c.cancel()
--
-- Queue values are any Lua values (here tables).  Virtual time
-- (WEFT_REAL_TIME=1 for real time).
local weft = require "weft"

local processed = {}

weft.run({ virtual_time = os.getenv("WEFT_REAL_TIME") == nil }, function()
  local queue = weft.queue(3)

  local function producer(name, n)
    for i = 1, n do
      queue:put({ from = name, seq = i }):await()
      print(string.format("%-3s put %s-%d (queue %d/%d)", name, name, i, queue:qsize(), queue:maxsize()))
    end
  end

  local function consumer(name)
    while true do
      local item = queue:get():await()
      weft.sleep(0.1)
      processed[#processed + 1] = item.from .. "-" .. item.seq
      print(string.format("%-3s done %s-%d at %.1f s", name, item.from, item.seq, weft.time()))
      queue:task_done()
    end
  end

  local consumers = { weft.spawn(consumer, "A"), weft.spawn(consumer, "B") }
  weft.gather(function() producer("p1", 5) end, function() producer("p2", 5) end):await()
  queue:join():await()
  print(string.format("all %d items processed at %.1f s", #processed, weft.time()))
  for _, c in ipairs(consumers) do c:cancel() end
end)

assert(#processed == 10)
