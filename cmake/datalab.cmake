# House helpers: one small target per library per folder, explicit sources,
# aliases datalab::<name>, one test executable per _test.cc.
include_guard(GLOBAL)

# datalab_cc_library(NAME n SRCS a.cc ... HDRS a.h ... DEPS x y PRIVATE_DEPS z)
# Defines target datalab_<n> with alias datalab::<n>. Header-only when SRCS is empty.
function(datalab_cc_library)
  cmake_parse_arguments(A "" "NAME" "SRCS;HDRS;DEPS;PRIVATE_DEPS" ${ARGN})
  set(t datalab_${A_NAME})
  if(A_SRCS)
    add_library(${t} STATIC ${A_SRCS} ${A_HDRS})
    target_include_directories(${t} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/gen)
    target_link_libraries(${t} PUBLIC ${A_DEPS} PRIVATE ${A_PRIVATE_DEPS})
    target_compile_options(${t} PRIVATE ${DATALAB_WARNINGS})
  else()
    add_library(${t} INTERFACE)
    target_include_directories(${t} INTERFACE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/gen)
    target_link_libraries(${t} INTERFACE ${A_DEPS})
  endif()
  add_library(datalab::${A_NAME} ALIAS ${t})
endfunction()

# datalab_cc_binary(NAME datalab-x SRCS main.cc DEPS ...) -> build/bin/<NAME>
function(datalab_cc_binary)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${A_NAME} ${A_SRCS})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS})
  target_compile_options(${A_NAME} PRIVATE ${DATALAB_WARNINGS})
  set_target_properties(${A_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bin)
endfunction()

# datalab_use_tcmalloc(target): the binary allocates through tcmalloc
# (thread caches, no glibc arena consolidation). Used where allocation is a
# measured bottleneck: the audit service's appends went from ~97K to
# ~125K events/s with it (docs/BENCHMARKS.md, stop 20). Nothing references
# tcmalloc's symbols, hence --no-as-needed. A no-op under sanitizers/fuzzing.
function(datalab_use_tcmalloc target)
  if(DATALAB_TCMALLOC)
    target_link_libraries(${target} PRIVATE -Wl,--no-as-needed ${DATALAB_TCMALLOC} -Wl,--as-needed)
  endif()
endfunction()

# datalab_cc_test(NAME x_test SRCS x_test.cc DEPS ... [LABELS l ...] [TIMEOUT s])
# One executable per test file, registered with gtest_discover_tests.
function(datalab_cc_test)
  cmake_parse_arguments(A "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT DATALAB_BUILD_TESTS)
    return()
  endif()
  add_executable(${A_NAME} ${A_SRCS})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS} datalab::testing GTest::gmock GTest::gtest_main)
  target_compile_options(${A_NAME} PRIVATE ${DATALAB_WARNINGS})
  set_target_properties(${A_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  if(NOT A_LABELS)
    set(A_LABELS unit)
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  # Paths tests need, compiled in (gtest_discover_tests cannot pass several
  # environment variables); common/testing/paths.h reads them, and the
  # DATALAB_SOURCE_DIR/DATALAB_BIN_DIR/DATALAB_SHARED_DIR environment
  # variables override them (scripts/test.sh exports all three).
  target_compile_definitions(${A_NAME} PRIVATE
    DATALAB_TEST_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    DATALAB_TEST_BIN_DIR="${PROJECT_BINARY_DIR}/bin"
    DATALAB_TEST_SHARED_DIR="${PROJECT_SOURCE_DIR}/../shared")
  gtest_discover_tests(${A_NAME}
    PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
    DISCOVERY_TIMEOUT 60)
endfunction()

# datalab_proto_library(NAME n PROTOS a.proto ... DEPS other_proto_targets [GRPC])
# Generates C++ (and gRPC stubs with GRPC) under build/gen; target datalab::<n>.
function(datalab_proto_library)
  cmake_parse_arguments(A "GRPC" "NAME" "PROTOS;DEPS" ${ARGN})
  set(srcs)
  set(hdrs)
  foreach(p ${A_PROTOS})
    # p is relative to ${PROJECT_SOURCE_DIR}/proto
    string(REGEX REPLACE "\\.proto$" "" base ${p})
    set(out ${PROJECT_BINARY_DIR}/gen/${base}.pb.cc ${PROJECT_BINARY_DIR}/gen/${base}.pb.h)
    set(args --cpp_out=${PROJECT_BINARY_DIR}/gen)
    if(A_GRPC)
      list(APPEND out ${PROJECT_BINARY_DIR}/gen/${base}.grpc.pb.cc ${PROJECT_BINARY_DIR}/gen/${base}.grpc.pb.h)
      list(APPEND args --grpc_out=${PROJECT_BINARY_DIR}/gen
                       --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>)
    endif()
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/gen
      COMMAND protobuf::protoc -I${PROJECT_SOURCE_DIR}/proto ${args} ${PROJECT_SOURCE_DIR}/proto/${p}
      DEPENDS ${PROJECT_SOURCE_DIR}/proto/${p} protobuf::protoc
      COMMENT "protoc ${p}"
      VERBATIM)
    list(APPEND srcs ${out})
  endforeach()
  set(t datalab_${A_NAME})
  add_library(${t} STATIC ${srcs})
  target_include_directories(${t} PUBLIC ${PROJECT_BINARY_DIR}/gen)
  target_link_libraries(${t} PUBLIC ${A_DEPS} protobuf::libprotobuf)
  if(A_GRPC)
    target_link_libraries(${t} PUBLIC gRPC::grpc++)
  endif()
  add_library(datalab::${A_NAME} ALIAS ${t})
endfunction()
