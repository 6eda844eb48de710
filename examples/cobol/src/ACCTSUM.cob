      *================================================================*
      * ACCTSUM - each customer's accounts, summed up.                 *
      *   In:  ACCTIN,  the customer-accounts file (ACCTSEG): fixed    *
      *        131-byte slots, a customer segment ('C') and then its   *
      *        account segments ('A'), as the file came off the        *
      *        mainframe once converted to ASCII fixed records.        *
      *   Out: ACCTOUT, one 84-byte ACCOUNT-SUMMARY per customer.      *
      *        Accounts with no customer before them: status E1.       *
      *   The files are ASSIGNed by name: GnuCOBOL maps them through   *
      *   the variables DD_ACCTIN and DD_ACCTOUT.                      *
      *   RETURN-CODE  0: done   8: a segment id that is neither C     *
      *                nor A   12: no input                            *
      *================================================================*
       IDENTIFICATION DIVISION.
       PROGRAM-ID. ACCTSUM.
       ENVIRONMENT DIVISION.
       INPUT-OUTPUT SECTION.
       FILE-CONTROL.
           SELECT ACCTIN-FILE ASSIGN TO "ACCTIN"
               ORGANIZATION IS SEQUENTIAL
               FILE STATUS IS WS-IN-STATUS.
           SELECT ACCTOUT-FILE ASSIGN TO "ACCTOUT"
               ORGANIZATION IS SEQUENTIAL
               FILE STATUS IS WS-OUT-STATUS.
       DATA DIVISION.
       FILE SECTION.
       FD  ACCTIN-FILE
           RECORD CONTAINS 131 CHARACTERS.
       01  ACCTIN-RECORD               PIC X(131).
       FD  ACCTOUT-FILE
           RECORD CONTAINS 84 CHARACTERS.
       01  ACCTOUT-RECORD              PIC X(84).
       WORKING-STORAGE SECTION.
       COPY ACCTSEG.
       COPY ACCTSUM.
       01  WS-IN-STATUS                PIC XX.
       01  WS-OUT-STATUS               PIC XX.
       01  WS-END-OF-INPUT             PIC X VALUE "N".
       01  WS-OPEN-SUMMARY             PIC X VALUE "N".
       01  WS-MOVE                     PIC 9(4) COMP.
       01  WS-SEGMENTS                 PIC 9(6) VALUE ZERO.
       PROCEDURE DIVISION.
       MAIN-LINE.
           OPEN INPUT ACCTIN-FILE
           IF WS-IN-STATUS NOT = "00"
               DISPLAY "ACCTSUM: CANNOT OPEN ACCTIN, STATUS "
                       WS-IN-STATUS UPON SYSERR
               MOVE 12 TO RETURN-CODE
               STOP RUN
           END-IF
           OPEN OUTPUT ACCTOUT-FILE
           PERFORM UNTIL WS-END-OF-INPUT = "Y"
               READ ACCTIN-FILE
                   AT END
                       MOVE "Y" TO WS-END-OF-INPUT
                   NOT AT END
                       ADD 1 TO WS-SEGMENTS
                       PERFORM TAKE-SEGMENT
               END-READ
           END-PERFORM
           PERFORM WRITE-SUMMARY
           CLOSE ACCTIN-FILE ACCTOUT-FILE
           DISPLAY "ACCTSUM: " WS-SEGMENTS " SEGMENTS" UPON SYSERR
           STOP RUN.

       TAKE-SEGMENT.
           EVALUATE ACCTIN-RECORD(1:1)
               WHEN "C"
                   PERFORM WRITE-SUMMARY
                   MOVE ACCTIN-RECORD TO CUSTOMER-SEG
                   PERFORM START-SUMMARY
               WHEN "A"
                   MOVE ACCTIN-RECORD TO ACCOUNT-SEG
                   IF WS-OPEN-SUMMARY = "N"
                       INITIALIZE ACCOUNT-SUMMARY
                       MOVE AS-CUSTOMER-ID TO SU-CUSTOMER-ID
                       MOVE "E1" TO SU-STATUS
                       MOVE "Y" TO WS-OPEN-SUMMARY
                   END-IF
                   PERFORM ADD-ACCOUNT
               WHEN OTHER
                   DISPLAY "ACCTSUM: SEGMENT " WS-SEGMENTS
                           " HAS THE ID " ACCTIN-RECORD(1:1)
                           ", NEITHER C NOR A" UPON SYSERR
                   MOVE 8 TO RETURN-CODE
                   STOP RUN
           END-EVALUATE.

       START-SUMMARY.
           INITIALIZE ACCOUNT-SUMMARY
           MOVE CS-CUSTOMER-ID TO SU-CUSTOMER-ID
           MOVE CS-NAME TO SU-NAME
           IF CS-KIND = "B"
               MOVE "BUSINESS" TO SU-KIND
           ELSE
               MOVE "PERSON" TO SU-KIND
           END-IF
           MOVE "OK" TO SU-STATUS
           MOVE "Y" TO WS-OPEN-SUMMARY.

       ADD-ACCOUNT.
           ADD 1 TO SU-ACCOUNTS
           ADD AS-BALANCE TO SU-BALANCE
           PERFORM VARYING WS-MOVE FROM 1 BY 1
                   UNTIL WS-MOVE > AS-MOVES
               ADD 1 TO SU-MOVES
               ADD AS-MOVE-AMOUNT(WS-MOVE) TO SU-NET-MOVES
           END-PERFORM.

       WRITE-SUMMARY.
           IF WS-OPEN-SUMMARY = "Y"
               WRITE ACCTOUT-RECORD FROM ACCOUNT-SUMMARY
               MOVE "N" TO WS-OPEN-SUMMARY
           END-IF.
