      *----------------------------------------------------------------*
      * PAYIN  - one employee's week, as the time-keeping system sends *
      *          it. 72 bytes, fixed width.                            *
      *----------------------------------------------------------------*
       01  PAY-IN.
           05  PI-EMP-ID               PIC X(6).
           05  PI-EMP-NAME             PIC X(24).
      *    Pay per hour, 2 implied decimals: 002550 = 25.50
           05  PI-HOURLY-RATE          PIC 9(3)V99.
      *    Tax withheld as a fraction of gross: 215 = 0.215
           05  PI-TAX-RATE             PIC V999.
      *    Bonus (+) or deduction (-), zoned with an overpunched sign
           05  PI-ADJUSTMENT           PIC S9(5)V99.
      *    Gross paid so far this year, packed decimal
           05  PI-YTD-GROSS            PIC S9(7)V99 COMP-3.
           05  PI-DAYS-WORKED          PIC 9.
           05  PI-HOURS                PIC 9(2)V9 OCCURS 7 TIMES.
