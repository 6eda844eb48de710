      *----------------------------------------------------------------*
      * PAYREQ - one employee's week as an online request: the fields  *
      *          of PAYIN, all in DISPLAY format (no packed decimal),  *
      *          because PAYROLL reads it with ACCEPT, and GnuCOBOL's  *
      *          ACCEPT takes the byte 0x03 for Ctrl-C. 76 bytes.      *
      *----------------------------------------------------------------*
       01  PAY-IN.
           05  PI-EMP-ID               PIC X(6).
           05  PI-EMP-NAME             PIC X(24).
           05  PI-HOURLY-RATE          PIC 9(3)V99.
           05  PI-TAX-RATE             PIC V999.
           05  PI-ADJUSTMENT           PIC S9(5)V99.
           05  PI-YTD-GROSS            PIC S9(7)V99.
           05  PI-DAYS-WORKED          PIC 9.
           05  PI-HOURS                PIC 9(2)V9 OCCURS 7 TIMES.
