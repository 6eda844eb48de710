      * Mainframe records (cp037, RECFM=V) a program copies: two kinds
      * of account told apart by AC-KIND, and a table its count sizes.
       01  AC-RECORD.
           05  AC-KIND             PIC X.
           05  AC-ID               PIC 9(6).
           05  AC-BODY.
               10  AC-PERSON.
                   15  AC-NAME     PIC X(10).
                   15  AC-BORN     PIC 9(8).
               10  AC-FIRM REDEFINES AC-PERSON.
                   15  AC-FIRM-NAME PIC X(12).
                   15  AC-STAFF    PIC S9(5) COMP-3.
                   15  FILLER      PIC X(3).
           05  AC-BALANCE          PIC S9(9)V99 COMP-3.
           05  AC-COUNT            PIC S9(4) COMP.
           05  AC-MOVE OCCURS 0 TO 5 TIMES DEPENDING ON AC-COUNT.
               10  AC-AMOUNT       PIC S9(5)V99 COMP-3.
               10  AC-CODE         PIC X(2).
