-- LuaRocks spec of the Lua binding (Lua 5.4).  From the repository root:
--   luarocks --lua-version 5.4 make bindings/lua/weft-scm-1.rockspec
-- (add --local for ~/.luarocks).  The build is the project's CMake build
-- with only the library and the Lua module: libweft goes to the rock's lib/,
-- weft/core.so and weft/init.lua to the rock tree's module dirs, and
-- core.so finds libweft through its rpath.
rockspec_format = "3.0"
package = "weft"
version = "scm-1"
source = {
  url = "git+file://./", -- the checkout `luarocks make` runs in
}
description = {
  summary = "asyncio for Lua 5.4: coroutine tasks on weft (libuv)",
  detailed = [[
    require "weft": weft.run, weft.spawn (tasks are coroutines driven by weft
    tasks), await on any future or task, sleep, futures with any Lua value,
    gather, wait_for, shield, timeouts, task groups, signals, files, TCP and
    Unix streams and servers, subprocesses, UDP.  C code and Lua code await
    each other's futures and tasks.
  ]],
  homepage = "https://example.invalid/weft",
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
external_dependencies = {
  LIBUV = { header = "uv.h" },
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    CMAKE_INSTALL_LIBDIR = "lib",
    WEFT_BUILD_LUA = "ON",
    WEFT_BUILD_TESTS = "OFF",
    WEFT_BUILD_EXAMPLES = "OFF",
    WEFT_BUILD_BENCH = "OFF",
    WEFT_LUA_CMOD_DIR = "$(LIBDIR)",
    WEFT_LUA_LMOD_DIR = "$(LUADIR)",
  },
}
