      *----------------------------------------------------------------*
      * ACCTSEG - a customer-accounts file as it comes off the         *
      *           mainframe: a customer segment ('C') and then each of *
      *           its accounts ('A'), told apart by the first byte.    *
      *           A customer is a person or a business (CS-KIND P/B),  *
      *           the same bytes seen two ways (REDEFINES); an account *
      *           holds its recent movements, as many as AS-MOVES says *
      *           (OCCURS DEPENDING ON). Customer: 72 bytes; account:  *
      *           35 + 16 per movement, 131 at most.                   *
      *----------------------------------------------------------------*
       01  CUSTOMER-SEG.
           05  CS-SEG-ID               PIC X.
           05  CS-CUSTOMER-ID          PIC 9(8).
           05  CS-NAME                 PIC X(30).
           05  CS-SINCE                PIC 9(8).
           05  CS-KIND                 PIC X.
           05  CS-DETAIL.
               10  CS-PERSON.
                   15  CS-BIRTH-DATE   PIC 9(8).
                   15  CS-NATIONAL-ID  PIC X(11).
                   15  FILLER          PIC X(5).
               10  CS-BUSINESS REDEFINES CS-PERSON.
                   15  CS-TAX-ID       PIC X(12).
                   15  CS-EMPLOYEES    PIC 9(7) COMP-3.
                   15  CS-SECTOR       PIC X(4).
                   15  FILLER          PIC X(4).
       01  ACCOUNT-SEG.
           05  AS-SEG-ID               PIC X.
           05  AS-CUSTOMER-ID          PIC 9(8).
           05  AS-ACCOUNT-NO           PIC 9(10).
           05  AS-TYPE                 PIC X(3).
           05  AS-BALANCE              PIC S9(11)V99 COMP-3.
           05  AS-RATE                 PIC S9(2)V9(4) COMP-3.
           05  AS-MOVES                PIC S9(4) COMP.
           05  AS-MOVE OCCURS 0 TO 6 TIMES DEPENDING ON AS-MOVES.
               10  AS-MOVE-DATE        PIC 9(8).
               10  AS-MOVE-AMOUNT      PIC S9(9)V99 COMP-3.
               10  AS-MOVE-CODE        PIC X(2).
