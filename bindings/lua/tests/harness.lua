-- A tiny test runner for the Lua binding's tests (plain lua5.4, no busted).
--
--   local T = require "harness"
--   T.test("name", function() ... end)     -- runs inside weft.run
--   T.plain("name", function() ... end)    -- runs as is (no loop)
--   T.run()                                -- runs all, exits 1 on failure
--
-- Every test ends with a full garbage collection and checks that the
-- binding holds no C structure any more (callbacks, tasks, held values).
local weft = require "weft"

local T = { cases = {} }

-- Tests run on a virtual-time loop: sleeps take no wall time.
function T.test(name, fn) T.cases[#T.cases + 1] = { name = name, fn = fn, loop = "virtual" } end
function T.realtime(name, fn) T.cases[#T.cases + 1] = { name = name, fn = fn, loop = "real" } end
function T.plain(name, fn) T.cases[#T.cases + 1] = { name = name, fn = fn, loop = false } end

-- asserts --------------------------------------------------------------------

function T.eq(a, b, msg)
  if a ~= b or math.type(a) ~= math.type(b) then
    error(string.format("%sexpected %s (%s), got %s (%s)", msg and (msg .. ": ") or "",
      tostring(b), math.type(b) or type(b), tostring(a), math.type(a) or type(a)), 2)
  end
end

-- Calls fn(...) and returns the error it raised (fails if it did not raise).
function T.raises(fn, ...)
  local ok, e = pcall(fn, ...)
  if ok then error("expected an error", 2) end
  return e
end

-- The error code of a weft error object raised by fn(...).
function T.raises_code(code, fn, ...)
  local ok, e = pcall(fn, ...)
  if ok then error("expected error " .. weft.err_name(code), 2) end
  if not weft.is_error(e, code) then
    error("expected error " .. weft.err_name(code) .. ", got " .. tostring(e), 2)
  end
  return e
end

function T.contains(s, part)
  if type(s) ~= "string" or not s:find(part, 1, true) then
    error(string.format("%q does not contain %q", tostring(s), part), 2)
  end
end

-- On a real-time loop: sleeps in small steps until cond() is true, and fails
-- after 30 s of loop time.  For what happens outside the test's control (a
-- connection accepted, a datagram read, a signal delivered): a fixed sleep
-- is too short on a loaded machine or under valgrind.
function T.wait_until(cond, what)
  local deadline = weft.time() + 30
  while not cond() do
    if weft.time() > deadline then error("never happened: " .. what, 2) end
    weft.sleep(0.005)
  end
end

-- Collects until the binding's deferred releases are drained.  A chain of
-- futures whose values hold the next future frees one link per cycle (each
-- link is released by a finalizer), so this repeats until nothing changes.
function T.collect()
  local last = -1
  for _ = 1, 10000 do
    collectgarbage("collect")
    weft.core.rt.drain()
    local now = weft.core.rt.stats()
    if now == last then break end
    last = now
  end
end

-- Live C structures of the binding (registrations, tasks, held values).
function T.live() T.collect() return weft.core.rt.stats() end

function T.run()
  local failed, passed = 0, 0
  local base = T.live()
  for _, c in ipairs(T.cases) do
    local ok, err = xpcall(function()
      if c.loop then weft.run({ virtual_time = c.loop == "virtual" }, c.fn) else c.fn() end
    end, function(e)
      if type(e) == "table" then return tostring(e) end
      return debug.traceback(tostring(e), 2)
    end)
    if ok then
      local live = T.live()
      if live ~= base then
        ok, err = false, string.format("leak: %d binding structures still live (was %d)", live, base)
      end
    end
    if ok then
      passed = passed + 1
      print("ok   " .. c.name)
    else
      failed = failed + 1
      print("FAIL " .. c.name .. "\n     " .. tostring(err):gsub("\n", "\n     "))
    end
  end
  print(string.format("%d passed, %d failed", passed, failed))
  if failed > 0 then os.exit(1) end
end

return T
