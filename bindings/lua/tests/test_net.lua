-- Streams, servers, subprocesses, UDP and the thread pool from Lua.
local T = require "harness"
local weft = require "weft"
local testc = require "weft_testc"

local tmp = os.getenv("TMPDIR") or "/tmp"
local unique = string.format("%d_%s", os.time(), tostring({}):match("0x(%x+)"))

T.realtime("TCP: a server, a client, reads of every kind", function()
  local served = 0
  local server = weft.start_server(function(s, greeting)
    served = served + 1
    s:write(greeting)
    while true do
      local line = s:read_line():await()
      if line == "" then break end
      s:write(line:upper())
    end
    s:write_eof()
    s:close()
    s:wait_closed():await()
  end, "127.0.0.1", 0, { backlog = 8 }, "hello\n")
  T.eq(server:is_serving(), true)
  local addr, port = server:address()
  T.eq(addr, "127.0.0.1")
  local all = server:addresses() -- one socket for a numeric address
  T.eq(#all, 1); T.eq(all[1][1], "127.0.0.1"); T.eq(all[1][2], port)
  T.contains(tostring(server), tostring(port))
  local c = weft.connect("127.0.0.1", port)
  T.eq(c:kind(), weft.STREAM_TCP)
  local paddr, pport = c:peer_address()
  T.eq(paddr, "127.0.0.1"); T.eq(pport, port)
  T.eq(select(1, c:local_address()), "127.0.0.1")
  c:set_nodelay(true); c:set_keepalive(true, 30)
  T.eq(c:read_line():await(), "hello\n")
  c:write("one\ntwo\nthree|rest")
  T.eq(c:read_exactly(4):await(), "ONE\n")
  T.eq(c:read_until("\n"):await(), "TWO\n")
  c:write("\n")
  T.eq(c:read_until("|"):await(), "THREE|")
  T.eq(c:read(100):await(), "REST\n")
  T.eq(c:read_buffer_size(), 0)
  T.eq(c:write_buffer_size(), 0)
  c:set_limit(1024)
  c:set_write_buffer_limits(1 << 16, 1 << 12)
  c:drain():await()
  c:write_eof()
  T.eq(c:read(100):await(), "") -- end of file
  T.eq(c:at_eof(), true)
  T.raises_code(weft.ESHUTDOWN, c.write, c, "late")
  c:close()
  T.eq(c:is_closing(), true)
  c:wait_closed():await()
  T.raises_code(weft.EOBJCLOSED, function() return c:read(1):await() end)
  T.eq(served, 1)
  server:close()
  T.eq(server:is_serving(), false)
  server:wait_closed():await()
  T.raises_code(weft.ECONNREFUSED, weft.connect, "127.0.0.1", port)
end)

T.realtime("read errors: EINCOMPLETE, ELIMIT, EBUSY; abort; close_clients", function()
  local held = {}
  local server = weft.start_server(function(s) held[#held + 1] = s end, "127.0.0.1", 0)
  local _, port = server:address()
  local c = weft.connect("localhost", port)
  local r = c:read_line()
  T.raises_code(weft.EBUSY, c.read, c, 1) -- one read at a time
  r:cancel()
  c:write("abc")
  c:write_eof()
  T.wait_until(function() return held[1] ~= nil end, "the server accepted the connection")
  local s = held[1]
  T.raises_code(weft.EINCOMPLETE, function() return s:read_exactly(10):await() end)
  T.eq(s:partial(), "abc") -- the bytes that arrived travel with the failure
  T.eq(s:read(10):await(), "") -- and are not left in the stream
  T.eq(server:close_clients(), 1)
  -- a line longer than the limit
  local c2 = weft.connect("127.0.0.1", port)
  T.wait_until(function() return held[2] ~= nil end, "the server accepted the second connection")
  local s2 = held[2]
  s2:set_limit(4)
  c2:write("too long a line\n")
  T.raises_code(weft.ELIMIT, function() return s2:read_line():await() end)
  c2:abort()
  T.eq(c2:is_closing(), true)
  T.raises(c2.set_limit, c2, 0)
  server:close()
  server:close_clients()
  server:wait_closed():await()
end)

T.realtime("Unix domain sockets", function()
  local path = tmp .. "/weft_lua_" .. unique .. ".sock"
  local server = weft.start_unix_server(function(s) s:write("unix\n"); s:close() end, path)
  T.eq(select(1, server:address()), path)
  local c = weft.connect_unix(path)
  T.eq(c:kind(), weft.STREAM_UNIX)
  T.eq(c:read_line():await(), "unix\n")
  T.eq(select(2, c:peer_address()), -1)
  c:close()
  server:close()
  server:wait_closed():await()
  T.raises_code(weft.ENOENT, weft.connect_unix, path)
  T.raises(weft.connect_unix, "")
end)

T.realtime("a server started without a handler, served later; loop close closes it all", function()
  local server = weft.start_server(nil, "127.0.0.1", 0)
  T.eq(server:is_serving(), false)
  server:serve(function(s) s:write("late\n") end)
  local _, port = server:address()
  local c = weft.connect("127.0.0.1", port)
  T.eq(c:read_line():await(), "late\n")
  -- left open: weft.run's close closes the server and the stream
end)

T.realtime("subprocesses: pipes, env, cwd, exit codes, signals", function()
  local p = weft.exec({ "sh", "-c", "read x; echo \"got $x from $WHO in $(pwd)\"; echo err >&2; exit 7" },
                      { stdin = "pipe", stdout = "pipe", stderr = "pipe", env = { WHO = "lua", PATH = os.getenv("PATH") },
                        cwd = tmp })
  T.eq(p:pid() > 0, true)
  T.contains(tostring(p), tostring(p:pid()))
  p.stdin:write("data\n")
  p.stdin:close()
  T.eq(p.stdout:read(-1):await(), "got data from lua in " .. tmp .. "\n")
  T.eq(p.stderr:read(-1):await(), "err\n")
  T.eq(p:wait():await(), 7)
  T.eq(select(1, p:exit_status()), 7)
  -- no pipe: the field is nil
  local q = weft.exec({ "true" }, { stdout = "devnull" })
  T.eq(q.stdout, nil)
  T.eq(q:wait():await(), 0)
  -- a signal ends it; the return code is minus the signal
  local s = weft.exec({ "sleep", "30" })
  T.raises_code(weft.EPENDING, s.exit_status, s)
  s:terminate()
  T.eq(s:wait():await(), -weft.SIGTERM)
  local status, sig = s:exit_status()
  T.eq(status, -1); T.eq(sig, weft.SIGTERM)
  T.raises_code(weft.ESRCH, s.send_signal, s, weft.SIGTERM)
  -- cancelling a wait kills the child
  local k = weft.exec({ "sleep", "30" })
  local w = k:wait()
  w:cancel()
  T.eq(k:wait():await(), -9)
  -- errors
  T.raises_code(weft.ENOENT, weft.exec, { "/nonexistent/program" })
  T.raises(weft.exec, {})
  T.raises(weft.exec, { "true" }, { stdin = "bogus" })
end)

T.realtime("UDP: send, recv, connected mode, limits", function()
  local a = weft.udp_open("127.0.0.1", 0)
  local b = weft.udp_open("127.0.0.1", 0, { flags = weft.UDP_REUSEADDR })
  T.contains(tostring(a), "127.0.0.1")
  T.eq(a:family(), weft.AF_INET)
  T.eq(a:send("ping", "127.0.0.1", b:local_port()):await(), 4)
  local data, addr, port, family = b:recv()
  T.eq(data, "ping"); T.eq(addr, "127.0.0.1"); T.eq(port, a:local_port()); T.eq(family, weft.AF_INET)
  b:connect("127.0.0.1", a:local_port())
  T.eq(b:peer_port(), a:local_port())
  T.eq(b:peer_address(), "127.0.0.1")
  b:send("pong"):await()
  T.eq(a:recv(), "pong")
  T.raises_code(weft.EISCONN, b.send, b, "x", "127.0.0.1", 1)
  a:set_broadcast(true); a:set_ttl(8)
  b:set_queue_limit(1)
  a:send("1", "127.0.0.1", b:local_port()):await()
  a:send("2", "127.0.0.1", b:local_port()):await()
  T.wait_until(function() return b:dropped() > 0 end, "b read the second datagram")
  T.eq(b:queued(), 1)
  T.eq(b:dropped(), 1)
  T.eq(math.type(b:dropped()), "integer")
  T.eq(b:recv(), "1")
  -- a recv in a timeout; closing fails what is pending
  T.raises_code(weft.ETIMEDOUT, weft.timeout, 0.05, function() return b:recv() end)
  local waiter = weft.spawn(function() return b:recv() end)
  weft.sleep(0.01)
  b:close()
  T.raises_code(weft.EOBJCLOSED, waiter.await, waiter)
  T.raises_code(weft.EINVAL, weft.udp_open, "not an address", 0)
  a:close()
end)

T.realtime("stream:read_into a weft.buffer", function()
  -- an echo server that reads into one buffer per connection
  local server = weft.start_server(function(s)
    local buf = weft.buffer(65536)
    while true do
      local n = s:read_into(buf)
      if n == 0 then break end
      s:write(buf:tostring(1, n))
      s:drain():await()
    end
    s:close()
  end, "127.0.0.1", 0)
  local _, port = server:address()
  local c = weft.connect("127.0.0.1", port)
  local b = weft.buffer(4)
  T.eq(#b, 4)
  T.eq(b:tostring(), "\0\0\0\0")
  c:write("abcdefghij")
  local got = {}
  local total = 0
  while total < 10 do -- at most #b bytes each, in order
    local n = c:read_into(b)
    T.eq(n >= 1 and n <= 4, true)
    got[#got + 1] = b:tostring(1, n)
    total = total + n
  end
  T.eq(table.concat(got), "abcdefghij")
  b = weft.buffer(8)
  c:write("xyz")
  T.eq(c:read_exactly(1):await(), "x") -- mixed with the other reads
  local n = c:read_into(b)
  T.eq(b:tostring(1, n), ("yz"):sub(1, n))
  if n == 1 then T.eq(c:read_exactly(1):await(), "z") end
  T.eq(b:tostring(-2), "\0\0"); T.eq(b:tostring(5, 2), "")
  -- a task cancelled in read_into: its buffer stays untouched, nothing is lost
  local mine = weft.buffer(8)
  local t = weft.spawn(function() return c:read_into(mine) end)
  weft.yield() -- t runs first and waits in its read
  T.raises_code(weft.EBUSY, c.read_into, c, weft.buffer(1)) -- one read at a time
  t:cancel()
  T.raises_code(weft.ECANCELED, t.await, t)
  c:write("kept")
  T.eq(c:read_exactly(4):await(), "kept")
  T.eq(mine:tostring(), ("\0"):rep(8))
  T.raises(c.read_into, c, "not a buffer")
  T.raises(weft.buffer, -1)
  c:write_eof()
  T.eq(c:read_into(b), 0) -- end of file
  c:close()
  c:wait_closed():await()
  T.raises_code(weft.EOBJCLOSED, c.read_into, c, b)
  server:close()
  server:wait_closed():await()
end)

T.realtime("the thread pool runs C work functions", function()
  local f = weft.to_thread(testc.work_sum(), testc.intptr(1000))
  T.eq(f:await(), 500500)
  local g = weft.to_thread(testc.work_sum(), testc.intptr(-1))
  local e = T.raises_code(weft.EINVAL, g.await, g)
  T.eq(e.message, "negative n")
  local a, b = weft.gather(weft.to_thread(testc.work_sum(), testc.intptr(10)),
                           weft.to_thread(testc.work_sum(), testc.intptr(4))):await()
  T.eq(a, 55); T.eq(b, 10)
  T.raises(weft.to_thread, "not a pointer")
  T.eq(weft.get_running_loop():set_work_close_timeout(5), 0)
end)

T.run()
