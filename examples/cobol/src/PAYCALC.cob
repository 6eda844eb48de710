      *================================================================*
      * PAYCALC - weekly pay for one employee, as a subprogram:        *
      *   CALL 'PAYCALC' USING PAY-IN PAY-OUT                          *
      *   In:  PAY-IN,  the 72-byte PAYIN record (packed YTD-GROSS)    *
      *   Out: PAY-OUT, the 77-byte PAYOUT record                      *
      *   RETURN-CODE  0: paid, or rejected with PO-STATUS E1..E5      *
      *               16: abend (divide by zero)                       *
      * The logic is the copybook PAYROLL and PAYBATCH use; its STOP   *
      * RUN (the abend) becomes GOBACK: a subprogram returns to its    *
      * caller with the RETURN-CODE, it does not end the run unit.     *
      *================================================================*
       IDENTIFICATION DIVISION.
       PROGRAM-ID. PAYCALC.
       DATA DIVISION.
       WORKING-STORAGE SECTION.
       COPY PAYWORK.
       LINKAGE SECTION.
       COPY PAYIN.
       COPY PAYOUT.
       PROCEDURE DIVISION USING PAY-IN PAY-OUT.
       MAIN-LINE.
           PERFORM CALCULATE-PAY
           GOBACK.
       COPY PAYCALC REPLACING ==STOP RUN== BY ==GOBACK==.
