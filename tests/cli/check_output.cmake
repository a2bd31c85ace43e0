# Runs COMMAND (a ;-list) in WORKING_DIRECTORY and compares its standard output with the file
# EXPECTED and its exit code with EXIT_CODE. Used for golden tests of riasc's output.
execute_process(
  COMMAND ${COMMAND}
  WORKING_DIRECTORY ${WORKING_DIRECTORY}
  OUTPUT_VARIABLE actual
  ERROR_VARIABLE errors
  RESULT_VARIABLE code)
file(READ ${EXPECTED} expected)
if(NOT code EQUAL EXIT_CODE)
  message(FATAL_ERROR "exit code ${code}, expected ${EXIT_CODE}\nstdout:\n${actual}\nstderr:\n${errors}")
endif()
if(NOT actual STREQUAL expected)
  message(FATAL_ERROR "output differs from ${EXPECTED}\n--- expected\n${expected}\n--- actual\n${actual}\nstderr:\n${errors}")
endif()
