# Puts next to ADDON (linked with RUNPATH $ORIGIN: CMakeLists.txt, torchkd_relocatable) the libtorch
# libraries it loads from LIBTORCH_LIBDIR and their dependencies from outside the system's library folders
# (a pip wheel's libgomp; a CUDA wheel's nvidia-* libraries). When LIBTORCH_LIBDIR is itself a system
# folder (Debian's libtorch-dev), only libtorch's own libraries (libtorch*, libc10*, libshm*) are bundled
# and their other dependencies stay the system's. Hard links where possible, else copies.
#   cmake -DADDON=build/Release/torchkd.node -DLIBTORCH_LIBDIR=/path/to/torch/lib -P scripts/bundle-libtorch.cmake
cmake_minimum_required(VERSION 3.19)
get_filename_component(dest "${ADDON}" DIRECTORY)
file(REAL_PATH "${LIBTORCH_LIBDIR}" libdir)
set(system_dir "^/(usr/)?lib(32|64|x32)?(/[^/]+-linux-gnu[^/]*)?$")
set(own_name "^lib(torch|c10|shm)[^/]*\\.so")
if(libdir MATCHES "${system_dir}")
  set(candidate_name "${own_name}")
else()
  set(candidate_name "^lib[^/]*\\.so")
endif()

# 1. Which of libtorch's libraries the addon loads. The loader searches $ORIGIN first and the system's
#    folders (which may hold another libtorch) after it: stage links to the candidates in $ORIGIN and
#    resolve as the loader will once they are there.
file(GLOB stale "${dest}/lib*.so*")
if(stale)
  file(REMOVE ${stale})
endif()
file(GLOB candidates "${libdir}/lib*.so*")
set(staged "")
foreach(lib IN LISTS candidates)
  get_filename_component(name "${lib}" NAME)
  if(name MATCHES "${candidate_name}" AND NOT IS_DIRECTORY "${lib}")
    file(CREATE_LINK "${lib}" "${dest}/${name}" SYMBOLIC)
    list(APPEND staged "${dest}/${name}")
  endif()
endforeach()
# The staged links' $ORIGIN is dest, not the wheel's torch/lib: a CUDA wheel's libraries find its nvidia-*
# folders through their $ORIGIN/../../nvidia/... RUNPATHs, so those folders are searched here explicitly.
file(GLOB wheel_dirs LIST_DIRECTORIES true "${libdir}/../../nvidia/*/lib" "${libdir}/../../nvidia/*/*/lib")
file(GET_RUNTIME_DEPENDENCIES LIBRARIES "${ADDON}" DIRECTORIES ${wheel_dirs}
  RESOLVED_DEPENDENCIES_VAR resolved UNRESOLVED_DEPENDENCIES_VAR unresolved)
if(unresolved)
  message(FATAL_ERROR "torchkd: ${ADDON} needs libraries that were not found: ${unresolved}")
endif()
set(bundle "")
foreach(lib IN LISTS resolved)
  get_filename_component(dir "${lib}" DIRECTORY)
  if(dir STREQUAL dest)
    get_filename_component(name "${lib}" NAME)
    file(REAL_PATH "${libdir}/${name}" real)
    list(APPEND bundle "${name}|${real}")
  endif()
endforeach()
if(staged)
  file(REMOVE ${staged})
endif()

# 2. Their dependencies, resolved from where they really are (their own $ORIGIN-relative RUNPATHs).
set(used "")
foreach(entry IN LISTS bundle)
  string(REGEX REPLACE "^[^|]*\\|" "" real "${entry}")
  list(APPEND used "${real}")
endforeach()
if(used)
  file(GET_RUNTIME_DEPENDENCIES LIBRARIES ${used} RESOLVED_DEPENDENCIES_VAR deps UNRESOLVED_DEPENDENCIES_VAR unresolved)
  if(unresolved)
    message(FATAL_ERROR "torchkd: libtorch's libraries need libraries that were not found: ${unresolved}")
  endif()
  foreach(lib IN LISTS deps)
    get_filename_component(name "${lib}" NAME)
    get_filename_component(dir "${lib}" DIRECTORY)
    file(REAL_PATH "${dir}" dir)
    if(NOT dir MATCHES "${system_dir}" OR (dir STREQUAL libdir AND name MATCHES "${own_name}"))
      file(REAL_PATH "${lib}" real)
      list(APPEND bundle "${name}|${real}")
    endif()
  endforeach()
endif()

# 3. The files themselves, under the names the loader asks for (sonames), not symbolic links.
list(REMOVE_DUPLICATES bundle)
foreach(entry IN LISTS bundle)
  string(REGEX MATCH "^[^|]*" name "${entry}")
  string(REGEX REPLACE "^[^|]*\\|" "" real "${entry}")
  file(CREATE_LINK "${real}" "${dest}/${name}" COPY_ON_ERROR)
endforeach()
list(LENGTH bundle count)
message(STATUS "torchkd: ${count} libraries of libtorch next to ${ADDON}")
