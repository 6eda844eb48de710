      * Call mode: a LINKAGE record longer than the copybook it is
      * deployed with (SMALL.cpy): the host's guard page catches it.
       IDENTIFICATION DIVISION.
       PROGRAM-ID. OVERRUN.
       DATA DIVISION.
       LINKAGE SECTION.
       01  LK-BIG.
           05  LK-TAG              PIC X(8).
           05  LK-REST             PIC X(4000).
       PROCEDURE DIVISION USING LK-BIG.
           MOVE ALL "X" TO LK-BIG
           GOBACK.
