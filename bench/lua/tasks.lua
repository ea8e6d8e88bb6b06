-- The peer kit's task workloads (../../../shared/bench/peers/README.md) in Lua
-- on weft, printing the kit's result line with impl=lua5.4-weft:
--
--   lua5.4 tasks.lua spawn [N]      N tasks returning i, joined in creation order
--   lua5.4 tasks.lua pingpong [M]   two tasks hand a token back and forth, a fresh
--                                   future per hop (as the asyncio peer)
--   lua5.4 tasks.lua sleepers [K]   K tasks sleeping (i * 7919) % 101 ms
--
-- Defaults and environment variables as the kit (N_SPAWN, M_PINGPONG,
-- K_SLEEPERS).  LUA_PATH/LUA_CPATH must find weft (bench/lua/run.sh sets
-- them for a build tree).  `seconds` is wall time (weft.time(), the loop's
-- monotonic clock), as the kit defines it; pingpong and spawn also print
-- the CPU time (os.clock(), as the kit's lua/coro.lua measures the bare
-- coroutine switch), which is what bench/lua/run.sh compares on a busy
-- machine (neither workload makes a system call per task or hop).
local weft = require "weft"

local impl = os.getenv("WEFT_LUA_IMPL") or "lua5.4-weft"
local workload = arg[1] or "pingpong"

local function status_kb(key)
  local f = io.open("/proc/self/status", "r")
  if not f then return -1 end
  for line in f:lines() do
    local v = line:match("^" .. key .. ":%s*(%d+)")
    if v then f:close(); return tonumber(v) end
  end
  f:close()
  return -1
end

local function report(n, secs, extra)
  io.write(string.format("workload=%s impl=%s n=%d seconds=%.6f rate=%.0f rss_kb=%d%s\n",
    workload, impl, n, secs, n / secs, status_kb("VmHWM"), extra or ""))
end

local spawn, yield_sleep = weft.spawn, weft.sleep

if workload == "spawn" then
  local n = tonumber(arg[2] or os.getenv("N_SPAWN") or 1000000)
  local secs, cpu = weft.run(function()
    local t0, c0 = weft.time(), os.clock()
    local tasks = {}
    local function ret(i) return i end
    for i = 0, n - 1 do tasks[i + 1] = spawn(ret, i) end
    local sum = 0
    for i = 1, n do
      sum = sum + tasks[i]:await()
      tasks[i] = nil
    end
    local secs, cpu = weft.time() - t0, os.clock() - c0
    assert(sum == n * (n - 1) // 2, "bad sum")
    return secs, cpu
  end)
  report(n, secs, string.format(" cpu_ns_per_task=%.1f", cpu * 1e9 / n))
elseif workload == "pingpong" then
  local m = tonumber(arg[2] or os.getenv("M_PINGPONG") or 1000000)
  local secs, cpu = weft.run(function()
    local future = weft.future
    -- each side owns an inbox future; the other side completes it
    local pong_inbox, ping_inbox = future(), nil
    local pong = spawn(function()
      for _ = 1, m do
        local inbox = pong_inbox
        local token = inbox:await()
        pong_inbox = future()          -- the next inbox before handing on
        ping_inbox:set_result(token + 1)
      end
    end)
    local t0, c0 = weft.time(), os.clock()
    local ping = spawn(function()
      local token = 0
      for _ = 1, m do
        ping_inbox = future()
        pong_inbox:set_result(token + 1)
        token = ping_inbox:await()
      end
      return token
    end)
    local token = ping:await()
    local secs, cpu = weft.time() - t0, os.clock() - c0
    pong:await()
    assert(token == 2 * m, "bad token " .. tostring(token))
    return secs, cpu
  end)
  report(m, secs, string.format(" ns_per_hop=%.1f cpu_ns_per_hop=%.1f", secs * 1e9 / (2 * m),
                                cpu * 1e9 / (2 * m)))
elseif workload == "sleepers" then
  local k = tonumber(arg[2] or os.getenv("K_SLEEPERS") or 100000)
  local secs, base, per = weft.run(function()
    local base = status_kb("VmRSS")
    local t0 = weft.time()
    local tasks = {}
    for i = 0, k - 1 do tasks[i + 1] = spawn(yield_sleep, ((i * 7919) % 101) / 1000) end
    for i = 1, k do tasks[i]:await() end
    local secs = weft.time() - t0
    return secs, base
  end)
  local peak = status_kb("VmHWM")
  report(k, secs, string.format(" base_rss_kb=%d per_task_b=%.0f", base, (peak - base) * 1024 / k))
else
  io.stderr:write("usage: lua5.4 tasks.lua spawn|pingpong|sleepers [N]\n")
  os.exit(2)
end
