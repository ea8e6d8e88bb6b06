-- Files (weft/fs.h) from Lua.
local T = require "harness"
local weft = require "weft"

local dir = os.getenv("TMPDIR") or "/tmp"
-- a name no other run shares (mkstemp), its file removed: os.time() and a
-- table address repeat between runs under valgrind
local base = os.tmpname()
os.remove(base)
local function path(name) return base .. "_" .. name end
local function cleanup(...) for _, p in ipairs({ ... }) do os.remove(p) end end

T.realtime("whole files: write, read, errors", function()
  local p = path("whole")
  T.eq(weft.write_file(p, "line 1\nline 2\0binary"):await(), 20)
  T.eq(weft.read_file(p):await(), "line 1\nline 2\0binary")
  T.eq(weft.write_file(p, ""):await(), 0)
  T.eq(weft.read_file(p):await(), "")
  local e = T.raises_code(weft.ENOENT, function() return weft.read_file(p .. "-missing"):await() end)
  T.contains(e.message, "missing")
  T.raises_code(weft.EISDIR, function() return weft.read_file(dir):await() end)
  T.raises_code(weft.EINVAL, weft.write_file, p, "x", 99999)
  -- the futures compose
  local a, b = weft.gather(weft.read_file(p), weft.write_file(path("other"), "o")):await()
  T.eq(a, ""); T.eq(b, 1)
  cleanup(p, path("other"))
end)

T.realtime("open, read and write at offsets, close", function()
  local p = path("open")
  local f = weft.open(p, "w+")
  T.contains(tostring(f), "file")
  T.eq(f:write("hello world"):await(), 11)
  T.eq(f:read(5, 0):await(), "hello")
  T.eq(f:read(100, 6):await(), "world")
  T.eq(f:read(100, 11):await(), "")
  T.eq(f:write("W", 6):await(), 1)
  T.eq(select("#", f:close():await()), 0)
  T.raises_code(weft.EOBJCLOSED, f.read, f, 1)
  T.raises_code(weft.EOBJCLOSED, f.close, f)
  T.eq(weft.read_file(p):await(), "hello World")
  -- append, exclusive, read-only
  local g = weft.open(p, "a")
  g:write("!"):await()
  g:close():await()
  T.eq(weft.read_file(p):await(), "hello World!")
  T.raises_code(weft.EEXIST, weft.open, p, "wx")
  local r = weft.open(p, weft.FS_READ)
  T.raises_code(weft.EBADF, function() return r:write("no"):await() end)
  T.eq(r:read():await(), "hello World!")
  r = nil -- the last reference closes it
  collectgarbage()
  T.raises_code(weft.ENOENT, weft.open, p .. "-missing", "r")
  T.raises(weft.open, p, "bogus")
  cleanup(p)
end)

T.plain("open needs a task; a loop's close closes its files", function()
  T.raises(weft.open, "/dev/null")
  local f
  weft.run(function() f = weft.open("/dev/null", "r") end)
  T.raises_code(weft.ECLOSED, f.read, f, 1)
  f = nil
  collectgarbage()
end)

T.run()
