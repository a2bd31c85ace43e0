# riasc_embed_files(TARGET NAME FILES...) compiles text files into TARGET as
# `std::span<const riasc::EmbeddedFile> NAME()` so the binary needs no data files at run time.
function(riasc_embed_files target function_name)
  set(output ${CMAKE_CURRENT_BINARY_DIR}/${function_name}.cpp)
  set(files ${ARGN})
  add_custom_command(
    OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -DOUTPUT=${output} -DFUNCTION=${function_name}
            "-DFILES=${files}" -P ${PROJECT_SOURCE_DIR}/cmake/RiascEmbedGenerate.cmake
    DEPENDS ${files} ${PROJECT_SOURCE_DIR}/cmake/RiascEmbedGenerate.cmake
    COMMENT "Embedding ${function_name}"
    VERBATIM)
  target_sources(${target} PRIVATE ${output})
endfunction()
