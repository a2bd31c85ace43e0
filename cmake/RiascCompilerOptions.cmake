# Warnings and sanitizers for every RIasC target, set in one place.
add_library(riasc_compile_options INTERFACE)
target_compile_options(riasc_compile_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wconversion -Wsign-conversion -Wimplicit-fallthrough)
if(RIASC_WERROR)
  target_compile_options(riasc_compile_options INTERFACE -Werror)
endif()
if(RIASC_SANITIZE)
  target_compile_options(riasc_compile_options INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(riasc_compile_options INTERFACE -fsanitize=address,undefined)
endif()
if(RIASC_FUZZ)
  # Instrument the libraries for coverage; only fuzz targets link the libFuzzer main.
  target_compile_options(riasc_compile_options INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(riasc_compile_options INTERFACE -fsanitize=address,undefined)
endif()

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()
