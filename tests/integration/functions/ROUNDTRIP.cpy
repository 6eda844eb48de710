      * Records the property tests send through a program that copies them.
       01  RT-RECORD.
           05  RT-NAME     PIC X(8).
           05  RT-AMOUNT   PIC 9(5)V99.
           05  RT-DELTA    PIC S9(3)V9.
           05  RT-TOTAL    PIC S9(7)V99 COMP-3.
           05  RT-COUNT    PIC 9(4) COMP.
