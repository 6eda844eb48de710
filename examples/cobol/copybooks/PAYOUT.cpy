      *----------------------------------------------------------------*
      * PAYOUT - the week's pay for one employee. 77 bytes.            *
      *          PO-STATUS is OK, or E1..E5 with PO-MESSAGE saying why.*
      *----------------------------------------------------------------*
       01  PAY-OUT.
           05  PO-EMP-ID               PIC X(6).
           05  PO-STATUS               PIC X(2).
           05  PO-REGULAR-HOURS        PIC 9(3)V9.
           05  PO-OVERTIME-HOURS       PIC 9(3)V9.
           05  PO-GROSS-PAY            PIC S9(6)V99.
           05  PO-TAX                  PIC S9(6)V99 COMP-3.
           05  PO-NET-PAY              PIC S9(6)V99.
           05  PO-YTD-GROSS            PIC S9(8)V99 COMP-3.
           05  PO-AVG-DAILY-HOURS      PIC 9(2)V99.
           05  PO-MESSAGE              PIC X(30).
