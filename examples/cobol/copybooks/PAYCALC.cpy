      *----------------------------------------------------------------*
      * PAYCALC - validate PAY-IN and compute PAY-OUT.                 *
      *   Up to 40 hours a week at the hourly rate, beyond that at     *
      *   1.5 times the rate; plus the adjustment. Tax is gross times  *
      *   the tax rate. Amounts are ROUNDED (half away from zero).     *
      *   A zero DAYS-WORKED with hours is a divide by zero: ABEND,    *
      *   RETURN-CODE 16, as the batch system always did.              *
      *----------------------------------------------------------------*
       CALCULATE-PAY.
           INITIALIZE PAY-OUT
           MOVE PI-EMP-ID TO PO-EMP-ID
           MOVE "OK" TO PO-STATUS
           EVALUATE TRUE
               WHEN PI-EMP-ID = SPACES
                   MOVE "E1" TO PO-STATUS
                   MOVE "EMPLOYEE ID IS MISSING" TO PO-MESSAGE
               WHEN PI-HOURLY-RATE = ZERO
                   MOVE "E2" TO PO-STATUS
                   MOVE "HOURLY RATE IS ZERO" TO PO-MESSAGE
               WHEN PI-DAYS-WORKED > 7
                   MOVE "E3" TO PO-STATUS
                   MOVE "MORE THAN 7 DAYS WORKED" TO PO-MESSAGE
           END-EVALUATE
           IF PO-STATUS NOT = "OK"
               EXIT PARAGRAPH
           END-IF
           MOVE ZERO TO WS-TOTAL-HOURS
           PERFORM VARYING WS-DAY FROM 1 BY 1 UNTIL WS-DAY > 7
               IF PI-HOURS (WS-DAY) > 24
                   MOVE "E4" TO PO-STATUS
                   MOVE "MORE THAN 24 HOURS IN ONE DAY" TO PO-MESSAGE
                   EXIT PARAGRAPH
               END-IF
               ADD PI-HOURS (WS-DAY) TO WS-TOTAL-HOURS
           END-PERFORM
           IF WS-TOTAL-HOURS > 40
               MOVE 40 TO PO-REGULAR-HOURS
               SUBTRACT 40 FROM WS-TOTAL-HOURS
                   GIVING PO-OVERTIME-HOURS
           ELSE
               MOVE WS-TOTAL-HOURS TO PO-REGULAR-HOURS
               MOVE ZERO TO PO-OVERTIME-HOURS
           END-IF
           COMPUTE PO-GROSS-PAY ROUNDED =
                 PI-HOURLY-RATE * PO-REGULAR-HOURS
               + PI-HOURLY-RATE * 1.5 * PO-OVERTIME-HOURS
               + PI-ADJUSTMENT
           IF PO-GROSS-PAY < ZERO
               MOVE "E5" TO PO-STATUS
               MOVE "GROSS PAY IS NEGATIVE" TO PO-MESSAGE
               EXIT PARAGRAPH
           END-IF
           COMPUTE PO-TAX ROUNDED = PO-GROSS-PAY * PI-TAX-RATE
           COMPUTE PO-NET-PAY = PO-GROSS-PAY - PO-TAX
           COMPUTE PO-YTD-GROSS = PI-YTD-GROSS + PO-GROSS-PAY
           IF WS-TOTAL-HOURS > ZERO
               DIVIDE WS-TOTAL-HOURS BY PI-DAYS-WORKED
                   GIVING PO-AVG-DAILY-HOURS ROUNDED
                   ON SIZE ERROR
                       DISPLAY "PAYCALC ABEND: DIVIDE BY ZERO, "
                               "DAYS WORKED = 0 FOR EMPLOYEE "
                               PI-EMP-ID UPON SYSERR
                       MOVE 16 TO RETURN-CODE
                       STOP RUN
               END-DIVIDE
           END-IF.
