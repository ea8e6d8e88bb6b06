-- Smoke test: the module loads, a task runs, values round-trip.
local T = require "harness"
local weft = require "weft"

T.plain("module loads and has constants", function()
  T.eq(math.type(weft.ECANCELED), "integer")
  T.eq(weft.ECANCELED, -125)
  T.eq(weft.FUTURE_PENDING, 0)
  T.eq(type(weft.VERSION), "string")
end)

T.plain("run returns main's values", function()
  local a, b = weft.run(function(x, y) return x + y, math.maxinteger end, 40, 2)
  T.eq(a, 42)
  T.eq(b, math.maxinteger)
end)

T.test("spawn, sleep and await", function()
  local t = weft.spawn(function(n) weft.sleep(0.001); return n * 2 end, 21)
  T.eq(t:await(), 42)
end)

T.run()
