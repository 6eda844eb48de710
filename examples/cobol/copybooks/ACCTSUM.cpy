      *----------------------------------------------------------------*
      * ACCTSUM - one customer's accounts, summed up. 84 bytes.        *
      *           SU-STATUS is OK, or E1 for accounts that came with   *
      *           no customer segment before them.                     *
      *----------------------------------------------------------------*
       01  ACCOUNT-SUMMARY.
           05  SU-CUSTOMER-ID          PIC 9(8).
           05  SU-NAME                 PIC X(30).
           05  SU-KIND                 PIC X(8).
           05  SU-ACCOUNTS             PIC 9(3).
           05  SU-BALANCE              PIC S9(13)V99.
           05  SU-MOVES                PIC 9(5).
           05  SU-NET-MOVES            PIC S9(11)V99.
           05  SU-STATUS               PIC X(2).
