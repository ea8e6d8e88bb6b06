# pkg-config files.
#
# weft.pc is generated at *install* time, so that `cmake --install --prefix X`
# (or CMAKE_INSTALL_PREFIX) is the prefix it records.  An absolute
# CMAKE_INSTALL_LIBDIR/INCLUDEDIR is used as is; a relative one is joined to
# ${prefix}.
#
# weft-uninstalled.pc is generated into ${build}/pkgconfig at configure time
# and points at the build tree (with an rpath).

foreach(_kind LIBDIR INCLUDEDIR)
  set(_dir "${CMAKE_INSTALL_${_kind}}")
  if(IS_ABSOLUTE "${_dir}")
    set(WEFT_PC_${_kind} "${_dir}")
  else()
    cmake_path(APPEND _joined "\${prefix}" "${_dir}")
    set(WEFT_PC_${_kind} "${_joined}")
    unset(_joined)
  endif()
endforeach()

# Stage 1 (configure): everything but the prefix, which stays a placeholder.
set(WEFT_PC_PREFIX "@WEFT_PC_PREFIX@")
configure_file("${PROJECT_SOURCE_DIR}/pkgconfig/weft.pc.in"
               "${PROJECT_BINARY_DIR}/pkgconfig/weft.pc.stage" @ONLY)
unset(WEFT_PC_PREFIX)

# Stage 2 (install): fill in the install prefix, then install the result.
set(_stage "${PROJECT_BINARY_DIR}/pkgconfig/weft.pc.stage")
set(_out "${PROJECT_BINARY_DIR}/pkgconfig/install/weft.pc")
install(CODE "
  set(WEFT_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${_stage}\" \"${_out}\" @ONLY)
")
install(FILES "${_out}" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")

# Uninstalled: the library's own output directory.
set(WEFT_UNINSTALLED_LIBDIR "$<TARGET_FILE_DIR:weft>")
configure_file("${PROJECT_SOURCE_DIR}/pkgconfig/weft-uninstalled.pc.in"
               "${PROJECT_BINARY_DIR}/pkgconfig/weft-uninstalled.pc.gen" @ONLY)
file(GENERATE OUTPUT "${PROJECT_BINARY_DIR}/pkgconfig/weft-uninstalled.pc"
              INPUT "${PROJECT_BINARY_DIR}/pkgconfig/weft-uninstalled.pc.gen")
unset(_stage)
unset(_out)
