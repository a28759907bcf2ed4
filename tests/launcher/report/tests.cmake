# launcher/report tests (`tlm report`): the charts as data from a synthetic run
# (report_fixture.c), the page end to end through the tlm binary (parsed with libxml2;
# the PNGs decoded with Cairo), the page rendered by headless Chromium, and a real run
# of the demo job against its `none` run.
set(TLM_REPORT_TESTS ${CMAKE_CURRENT_LIST_DIR})
add_library(tlm_report_fixture STATIC ${TLM_REPORT_TESTS}/report_fixture.c)
target_link_libraries(tlm_report_fixture PUBLIC tlm_report tlm_testutil)
tlm_add_test(test_report_charts SOURCES ${TLM_REPORT_TESTS}/test_report_charts.c LABELS cpu
             TIMEOUT 60)
target_link_libraries(test_report_charts PRIVATE tlm_report_fixture)
add_executable(test_report_page ${TLM_REPORT_TESTS}/test_report_page.c)
target_link_libraries(test_report_page PRIVATE tlm_report_fixture PkgConfig::LIBXML2
                      PkgConfig::CAIRO)
add_dependencies(test_report_page tlm) # runs the tlm binary
foreach(mode page chromium demo)
  tlm_add_test(test_report_${mode} COMMAND $<TARGET_FILE:test_report_page> ${mode} LABELS cpu
               TIMEOUT 120)
endforeach()
