-- Binding coverage: every weft_* function of the public headers is reachable
-- from Lua, or listed in bindings/lua/coverage.txt (see the top of that file).
local T = require "harness"
local weft = require "weft"
local core = weft.core

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local root = here .. "/../../.."

local function read(path)
  local f = assert(io.open(path, "r"), "cannot open " .. path)
  local s = f:read("a")
  f:close()
  return s
end

-- The functions of the headers (WEFT_API declarations).
local function header_functions()
  local names, seen = {}, {}
  local p = io.popen("ls " .. root .. "/abi/weft/*.h")
  for path in p:lines() do
    local text = read(path)
    for decl in text:gmatch("WEFT_API[^;]-%f[%w_](weft_[%w_]+)%s*%(") do
      if not seen[decl] then seen[decl] = true; names[#names + 1] = decl end
    end
  end
  p:close()
  table.sort(names)
  return names, seen
end

local function coverage_lists()
  local lists, section = { runtime = {}, ["c-only"] = {}, ["not-yet-bound"] = {} }, nil
  for line in read(root .. "/bindings/lua/coverage.txt"):gmatch("[^\n]*") do
    local s = line:match("^%[([%w-]+)%]")
    if s then
      assert(lists[s], "unknown section [" .. s .. "] in coverage.txt")
      section = s
    elseif not line:match("^%s*#") and line:match("%S") then
      local name, rest = line:match("^(weft_[%w_]+)%s*(.*)$")
      assert(name and section, "bad line in coverage.txt: " .. line)
      assert(rest ~= "", name .. ": give the Lua entry or the reason")
      lists[section][name] = rest
    end
  end
  return lists
end

-- Lua-visible classes: the method tables of init.lua and SWIG's.
local classes = {
  loop = { weft.Loop, core.loop },
  future = { weft.Future },
  task = { weft.Task },
  handle = { weft.Handle },
  timeout = { weft.Timeout },
  file = { weft.File },
  taskgroup = { weft.TaskGroup },
  stream = { weft.Stream },
  server = { weft.Server },
  process = { weft.Process },
  udp = { weft.Udp },
  event = { weft.Event },
  lock = { weft.Lock },
  semaphore = { weft.Semaphore },
  condition = { weft.Condition },
  barrier = { weft.Barrier },
  queue = { weft.Queue },
  as_completed = { weft.core.rt.as_completed_metatable and weft.core.rt.as_completed_metatable[".fn"] },
}
for cls, tables in pairs(classes) do
  local mt = weft.core.rt[cls .. "_metatable"]
  if mt then tables[#tables + 1] = mt[".fn"] end
  tables[#tables + 1] = core[cls]
end

local function by_naming(name)
  for cls, tables in pairs(classes) do
    local verb = name:match("^weft_" .. cls .. "_([%w_]+)$")
    if verb then
      for _, t in pairs(tables) do
        local ok, v = pcall(function() return t[verb] end)
        if ok and type(v) == "function" then return "weft." .. cls .. ":" .. verb end
      end
    end
  end
  local free = name:match("^weft_([%w_]+)$")
  if type(core[free]) == "function" then return "weft.core." .. free end
  return nil
end

local function resolve(path)
  local v = { weft = weft }
  for part in path:gmatch("[^.]+") do
    if type(v) ~= "table" then return nil end
    v = v[part]
  end
  return v
end

T.plain("every C function is reachable from Lua or listed as C-only", function()
  local names, declared = header_functions()
  T.eq(#names > 50, true, "functions found in the headers")
  local lists = coverage_lists()
  local sources = read(root .. "/bindings/lua/runtime.c") .. read(root .. "/bindings/swig/lua.i")
    .. read(root .. "/bindings/swig/weft.i") .. read(root .. "/bindings/lua/weft/init.lua")
  local problems, pending = {}, {}
  local counts = { naming = 0, runtime = 0, ["c-only"] = 0 }
  for section, entries in pairs(lists) do
    for name in pairs(entries) do
      if not declared[name] then
        problems[#problems + 1] = name .. " is listed in [" .. section .. "] but no header declares it"
      end
    end
  end
  for _, name in ipairs(names) do
    local where = {}
    local via = by_naming(name)
    if via then where[#where + 1] = "naming" end
    for section, entries in pairs(lists) do
      if entries[name] then where[#where + 1] = section end
    end
    if #where == 0 then
      problems[#problems + 1] = name .. " is not reachable from Lua and not listed in coverage.txt"
    elseif #where > 1 then
      problems[#problems + 1] = name .. " is both " .. table.concat(where, " and ")
    elseif where[1] == "runtime" then
      if type(resolve(lists.runtime[name])) ~= "function" then
        problems[#problems + 1] = name .. ": " .. lists.runtime[name] .. " is not a function"
      end
      if not sources:find(name .. "(", 1, true) then
        problems[#problems + 1] = name .. " is not called by the binding's sources"
      end
    elseif where[1] == "not-yet-bound" then
      pending[#pending + 1] = name
    end
    if counts[where[1]] then counts[where[1]] = counts[where[1]] + 1 end
  end
  print(string.format("     %d functions: %d by naming, %d through the runtime, %d C-only, %d not yet bound",
    #names, counts.naming, counts.runtime, counts["c-only"], #pending))
  if #pending > 0 then print("     not yet bound: " .. table.concat(pending, " ")) end
  if #problems > 0 then error(table.concat(problems, "\n"), 0) end
end)

T.plain("every Lua API name documented in init.lua is a function", function()
  for _, name in ipairs({ "run", "spawn", "spawn_named", "sleep", "yield", "await", "future",
      "gather", "wait_for", "shield", "timeout", "timeout_at", "call_soon", "call_later",
      "call_at", "time", "advance", "current_task", "all_tasks", "get_running_loop",
      "set_exception_handler", "getaddrinfo", "getnameinfo", "sleep_future", "new_loop",
      "error", "is_error", "is_cancelled", "is_timeout", "pointer", "adopt", "in_task",
      "read_file", "write_file", "open", "taskgroup", "signal_wait", "add_signal_handler",
      "remove_signal_handler", "connect", "connect_unix", "start_server", "start_unix_server",
      "exec", "udp_open", "to_thread", "event", "lock", "semaphore", "condition", "barrier",
      "queue", "lifo_queue", "priority_queue", "wait", "as_completed", "completed_source" }) do
    T.eq(type(weft[name]), "function", "weft." .. name)
  end
end)

T.run()
