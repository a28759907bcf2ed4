# Resume tests (worker/ttl_ckpt.c, worker/ttl_resume.c, launcher/signals.c): the bundled
# demo job through the tlm binary, interrupted by SIGTERM/SIGUSR1 and by kill -9 at 20
# moments, resumed with --resume auto and compared bit for bit with an uninterrupted run;
# mismatched checkpoints refused; a corrupt newest checkpoint skipped.
foreach(case signal kill9 refuse offline corrupt)
  tlm_add_test(test_resume_${case} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/resume/test_resume.sh
               ARGS ${case} LABELS cpu TIMEOUT 180)
endforeach()
