      * Call mode: a WORKING-STORAGE counter. Fresh state gives 1 every
      * time; kept state (BOOTSTRAP_SDK_EXEC_STATE=kept) 1, 2, 3...
       IDENTIFICATION DIVISION.
       PROGRAM-ID. COUNTER.
       DATA DIVISION.
       WORKING-STORAGE SECTION.
       01  WS-CALLS                PIC 9(4) VALUE ZERO.
       LINKAGE SECTION.
       COPY COUNTER.
       PROCEDURE DIVISION USING COUNTER-REC.
           ADD 1 TO WS-CALLS
           MOVE WS-CALLS TO CALLS
           GOBACK.
