-- require "weft" from an installed prefix (arg[1]): the modules come from
-- there, core.so finds libweft through its rpath, and a task runs.
local prefix = assert(arg[1], "usage: lua5.4 installed.lua PREFIX")
local weft = require "weft"
local function from_prefix(name, path)
  local found = assert(package.searchpath(name, path))
  assert(found:sub(1, #prefix) == prefix, name .. " loaded from " .. found .. ", not " .. prefix)
  return found
end
print(from_prefix("weft", package.path))
print(from_prefix("weft.core", package.cpath))
assert(weft.run(function(x)
  return weft.spawn(function() weft.sleep(0.001); return x * 2 end):await()
end, 21) == 42)
print("installed weft " .. weft.VERSION .. ": ok")
