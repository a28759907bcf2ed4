/* worker/model.c -- placeholder until the worker lands (keeps the tlm_worker target configurable). */
