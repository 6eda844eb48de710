      *================================================================*
      * PAYBATCH - weekly pay for a batch of employees.                *
      *   In:  PAYIN,  fixed 72-byte PAY-IN records                    *
      *   Out: PAYOUT, fixed 77-byte PAY-OUT records, one per input;   *
      *        rejected records carry their status and message.        *
      *   The files are ASSIGNed by name: GnuCOBOL maps PAYIN and      *
      *   PAYOUT through the variables DD_PAYIN and DD_PAYOUT.         *
      *   RETURN-CODE  0: done   12: no input   16: abend              *
      *================================================================*
       IDENTIFICATION DIVISION.
       PROGRAM-ID. PAYBATCH.
       ENVIRONMENT DIVISION.
       INPUT-OUTPUT SECTION.
       FILE-CONTROL.
           SELECT PAYIN-FILE ASSIGN TO "PAYIN"
               ORGANIZATION IS SEQUENTIAL
               FILE STATUS IS WS-IN-STATUS.
           SELECT PAYOUT-FILE ASSIGN TO "PAYOUT"
               ORGANIZATION IS SEQUENTIAL
               FILE STATUS IS WS-OUT-STATUS.
       DATA DIVISION.
       FILE SECTION.
       FD  PAYIN-FILE.
       01  PAYIN-RECORD                PIC X(72).
       FD  PAYOUT-FILE.
       01  PAYOUT-RECORD               PIC X(77).
       WORKING-STORAGE SECTION.
       COPY PAYIN.
       COPY PAYOUT.
       COPY PAYWORK.
       01  WS-IN-STATUS                PIC XX.
       01  WS-OUT-STATUS               PIC XX.
       01  WS-END-OF-INPUT             PIC X VALUE "N".
       01  WS-READ-COUNT               PIC 9(6) VALUE ZERO.
       01  WS-REJECT-COUNT             PIC 9(6) VALUE ZERO.
       PROCEDURE DIVISION.
       MAIN-LINE.
           OPEN INPUT PAYIN-FILE
           IF WS-IN-STATUS NOT = "00"
               DISPLAY "PAYBATCH: CANNOT OPEN PAYIN, STATUS "
                       WS-IN-STATUS UPON SYSERR
               MOVE 12 TO RETURN-CODE
               STOP RUN
           END-IF
           OPEN OUTPUT PAYOUT-FILE
           PERFORM UNTIL WS-END-OF-INPUT = "Y"
               READ PAYIN-FILE INTO PAY-IN
                   AT END
                       MOVE "Y" TO WS-END-OF-INPUT
                   NOT AT END
                       ADD 1 TO WS-READ-COUNT
                       PERFORM CALCULATE-PAY
                       IF PO-STATUS NOT = "OK"
                           ADD 1 TO WS-REJECT-COUNT
                       END-IF
                       WRITE PAYOUT-RECORD FROM PAY-OUT
               END-READ
           END-PERFORM
           CLOSE PAYIN-FILE PAYOUT-FILE
           DISPLAY "PAYBATCH: " WS-READ-COUNT " RECORDS, "
                   WS-REJECT-COUNT " REJECTED"
           IF WS-READ-COUNT = ZERO
               DISPLAY "PAYBATCH: NO INPUT RECORDS" UPON SYSERR
               MOVE 12 TO RETURN-CODE
           END-IF
           STOP RUN.
       COPY PAYCALC.
