# ember_proto(target files...): generate protobuf-c sources at build time into
# the build tree (never committed) and build them as a static library.
function(ember_proto target)
  set(srcs)
  set(hdrs)
  foreach(proto ${ARGN})
    get_filename_component(name ${proto} NAME_WE)
    set(out_c ${CMAKE_BINARY_DIR}/proto/${name}.pb-c.c)
    set(out_h ${CMAKE_BINARY_DIR}/proto/${name}.pb-c.h)
    add_custom_command(
      OUTPUT ${out_c} ${out_h}
      COMMAND ${PROTOC_C} --proto_path=${CMAKE_SOURCE_DIR} --c_out=${CMAKE_BINARY_DIR}
              ${CMAKE_SOURCE_DIR}/${proto}
      DEPENDS ${CMAKE_SOURCE_DIR}/${proto}
      COMMENT "protoc-c ${proto}")
    list(APPEND srcs ${out_c})
    list(APPEND hdrs ${out_h})
  endforeach()
  add_library(${target} STATIC ${srcs} ${hdrs})
  # Generated code is not ours to keep warning-free.
  target_compile_options(${target} PRIVATE -w)
  target_include_directories(${target} PUBLIC ${CMAKE_BINARY_DIR})
  target_link_libraries(${target} PUBLIC PkgConfig::PROTOBUFC)
endfunction()
