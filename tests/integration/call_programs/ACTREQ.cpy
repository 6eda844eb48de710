      * ACTIONS' input: what to do.
       01  ACT-REQ.
           05  ACTION                  PIC X(8).
           05  AMOUNT                  PIC S9(5)V99 COMP-3.
