      *================================================================*
      * PAYROLL - weekly pay for one employee.                         *
      *   In:  one PAYREQ record on stdin (ACCEPT)                     *
      *   Out: one PAY-OUT record on stdout (DISPLAY)                  *
      *   RETURN-CODE  0: paid                                         *
      *                8: the record is invalid (reason on stderr)     *
      *               16: abend (divide by zero)                       *
      *================================================================*
       IDENTIFICATION DIVISION.
       PROGRAM-ID. PAYROLL.
       DATA DIVISION.
       WORKING-STORAGE SECTION.
       COPY PAYREQ.
       COPY PAYOUT.
       COPY PAYWORK.
       PROCEDURE DIVISION.
       MAIN-LINE.
           ACCEPT PAY-IN
           PERFORM CALCULATE-PAY
           IF PO-STATUS NOT = "OK"
               DISPLAY "PAYROLL: EMPLOYEE " PI-EMP-ID " REJECTED "
                       PO-STATUS " " PO-MESSAGE UPON SYSERR
               MOVE 8 TO RETURN-CODE
               STOP RUN
           END-IF
           DISPLAY PAY-OUT
           STOP RUN.
       COPY PAYCALC.
