# Installs the safnet build tree into a scratch prefix, then configures, builds and runs
# tests/consumer against it, as a user of find_package(safnet) would; the installed tools
# answer --version.
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "consumer test step failed (${rc}): ${ARGN}")
    endif()
endfunction()
run(${CMAKE_COMMAND} --install ${SAFNET_BINARY_DIR} --prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/build -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix
    -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
# The tools are installed too, and say which version they are.
if(EXISTS ${SAFNET_BINARY_DIR}/tools/safnet-campaign)
    foreach(tool safnet-campaign safnet-train)
        execute_process(COMMAND ${WORK_DIR}/prefix/bin/${tool} --version OUTPUT_VARIABLE said RESULT_VARIABLE rc)
        if(NOT rc EQUAL 0 OR NOT said MATCHES "^${tool} [0-9]+\\.[0-9]+\\.[0-9]+")
            message(FATAL_ERROR "consumer test: installed ${tool} --version gave '${said}' (exit ${rc})")
        endif()
    endforeach()
endif()
